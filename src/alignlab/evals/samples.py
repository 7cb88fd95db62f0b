"""Eval samples in Inspect's shape: an id, an input (text or chat messages), a target, optional choices and
metadata; loaded from JSONL, CSV, a ``datasets`` object or plain dicts, with errors naming file, row and
field."""

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.formats import CHAT_ROLES, read_jsonl_rows, read_text_file
from ..errors import AlignlabError
from ..scoring.encode import Prompt


@dataclass(frozen=True)
class Sample:
    input: Prompt
    target: str | tuple[str, ...] = ""
    """What a scorer compares against: one string, or several acceptable ones."""
    id: str | int = 0
    choices: tuple[str, ...] | None = None
    """Options of a multiple-choice question; ``target`` is then the letter of the right one (A, B, ...)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,) if isinstance(self.target, str) else self.target


def _input(value: Any, where: str) -> Prompt:
    if isinstance(value, str):
        if not value.strip():
            raise AlignlabError(f"{where}: field 'input' is empty")
        return value
    if isinstance(value, list) and value:
        for turn, message in enumerate(value, start=1):
            if not isinstance(message, Mapping) or set(message) < {"role", "content"}:
                raise AlignlabError(f"{where}: field 'input', message {turn}: needs 'role' and 'content'")
            if message["role"] not in CHAT_ROLES:
                raise AlignlabError(
                    f"{where}: field 'input', message {turn}: unknown role {message['role']!r} "
                    f"(use one of {', '.join(CHAT_ROLES)})"
                )
            if not isinstance(message["content"], str):
                raise AlignlabError(f"{where}: field 'input', message {turn}: 'content' must be a string")
        return [{"role": m["role"], "content": m["content"]} for m in value]
    raise AlignlabError(f"{where}: field 'input' must be text or a non-empty list of chat messages")


def _target(value: Any, where: str) -> str | tuple[str, ...]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AlignlabError(f"{where}: field 'target' must be a string or a list of strings")


def _choices(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # a CSV cell holds the list as JSON
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise AlignlabError(f"{where}: field 'choices' must be a JSON list of strings") from None
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(c, str) and c for c in value):
        raise AlignlabError(f"{where}: field 'choices' must be a list of at least two non-empty strings")
    if len(value) > 26:
        raise AlignlabError(f"{where}: field 'choices' has {len(value)} options; at most 26 (A-Z)")
    return tuple(value)


def sample_from_row(row: Mapping[str, Any], where: str, number: int) -> Sample:
    """One Sample from a dict with ``input`` and optional ``target``, ``id``, ``choices``, ``metadata``."""
    if "input" not in row:
        raise AlignlabError(f"{where}: missing field 'input'")
    choices = _choices(row.get("choices"), where)
    target = _target(row.get("target", ""), where)
    if choices is not None:
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        if target not in letters:
            raise AlignlabError(
                f"{where}: field 'target' must be one of the choice letters {', '.join(letters)}"
            )
    metadata = row.get("metadata", {})
    if isinstance(metadata, str):  # a CSV cell
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError:
            raise AlignlabError(f"{where}: field 'metadata' must be a JSON object") from None
    if not isinstance(metadata, Mapping):
        raise AlignlabError(f"{where}: field 'metadata' must be an object")
    sample_id = row.get("id", number)
    if not isinstance(sample_id, str | int) or isinstance(sample_id, bool):
        raise AlignlabError(f"{where}: field 'id' must be a string or an integer")
    return Sample(_input(row["input"], where), target, sample_id, choices, dict(metadata))


def load_samples(
    data: str | Path | Iterable[Mapping[str, Any]], *, source: str | None = None
) -> list[Sample]:
    """Samples from a ``.jsonl`` or ``.csv`` file, a ``datasets.Dataset`` or any iterable of dicts.

    Ids must be unique (rows without one are numbered from 1): an eval's log keys samples by id."""
    if isinstance(data, str | Path):
        path = Path(data)
        text = read_text_file(path, "samples file")
        if path.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        else:
            rows = read_jsonl_rows(text, str(path))
        source = str(path)
    else:
        rows = list(data)
        source = source or type(data).__name__
    if not rows:
        raise AlignlabError(f"{source}: no samples")
    samples, seen = [], set()
    for number, row in enumerate(rows, start=1):
        where = f"{source}, row {number}"
        if not isinstance(row, Mapping):
            raise AlignlabError(f"{where}: expected an object, got {type(row).__name__}")
        sample = sample_from_row(row, where, number)
        if sample.id in seen:
            raise AlignlabError(f"{where}: id {sample.id!r} repeats an earlier row's")
        seen.add(sample.id)
        samples.append(sample)
    return samples
