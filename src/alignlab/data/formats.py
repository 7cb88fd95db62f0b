"""Training-data records in the ecosystem's formats (TRL's), loaded from JSONL files, ``datasets`` objects
or plain lists of dicts, with errors that name the source, the row and the field.

    preference   {"prompt", "chosen", "rejected"}          reward models, the DPO family
    completion   {"prompt", "completion"}                  SFT
    labelled     {"prompt", "completion", "label"}         KTO (label: true = desirable)
    stepwise     {"prompt", "completions", "labels"}       process reward models (a list of steps, and
                                                           one true/false label per step)

A prompt is text or a list of chat messages; a completion is text or a list holding one assistant message
(TRL's conversational format).
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AlignlabError
from ..scoring.encode import Prompt


@dataclass(frozen=True)
class PreferenceExample:
    prompt: Prompt
    chosen: str
    rejected: str


@dataclass(frozen=True)
class CompletionExample:
    prompt: Prompt
    completion: str
    label: bool | None = None


@dataclass(frozen=True)
class StepwiseExample:
    """A solution as a list of steps, each labelled correct (True) or not: TRL's stepwise supervision."""

    prompt: Prompt
    completions: tuple[str, ...]
    labels: tuple[bool, ...]


def read_jsonl_rows(text: str, source: str, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise AlignlabError(f"{source}, row {number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise AlignlabError(f"{source}, row {number}: expected a JSON object")
        for field in required:
            if field not in row:
                raise AlignlabError(f"{source}, row {number}: missing field {field!r}")
        rows.append(row)
    return rows


def read_text_file(path: str | Path, what: str = "file", max_bytes: int | None = None) -> str:
    """A UTF-8 text file (a byte-order mark is dropped), with one clear error for each way it can be unreadable."""
    path = Path(path)
    if path.is_dir():
        raise AlignlabError(f"{path}: is a directory, expected a {what}")
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise AlignlabError(
                f"{path}: {path.stat().st_size:,} bytes, larger than {max_bytes:,} for a {what}"
            )
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AlignlabError(f"{path}: no such {what}") from None
    except UnicodeDecodeError as e:
        raise AlignlabError(f"{path}: not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})") from None
    except OSError as e:
        raise AlignlabError(f"{path}: {e.strerror}") from None


def _rows(data: str | Path | Iterable[dict[str, Any]], allow_empty: bool) -> tuple[list[dict[str, Any]], str]:
    if isinstance(data, str | Path):
        source = str(data)
        rows = read_jsonl_rows(read_text_file(data, "JSONL file"), source)
    else:
        source = type(data).__name__
        rows = []
        for number, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                raise AlignlabError(f"{source}, row {number}: expected a dict, got {type(row).__name__}")
            rows.append(dict(row))
    if not rows and not allow_empty:
        raise AlignlabError(f"{source}: no rows (pass allow_empty=True if an empty set is expected)")
    return rows, source


CHAT_ROLES = ("system", "user", "assistant")


def _messages(value: list, field: str, where: str) -> list[dict[str, str]]:
    if not value:
        raise AlignlabError(f"{where}: field {field!r} is an empty list of messages")
    for index, message in enumerate(value):
        at = f"{where}: field {field!r}, message {index}"
        if not isinstance(message, dict) or not {"role", "content"} <= message.keys():
            raise AlignlabError(f"{at}: expected {{role, content}}")
        if message["role"] not in CHAT_ROLES:
            raise AlignlabError(f"{at}: role {message['role']!r} is not one of {', '.join(CHAT_ROLES)}")
        if not isinstance(message["content"], str):
            raise AlignlabError(f"{at}: content must be text, got {type(message['content']).__name__}")
    return value


def _prompt(value: Any, where: str) -> Prompt:
    if isinstance(value, str):
        if not value.strip():
            raise AlignlabError(f"{where}: field 'prompt' is empty")
        return value
    if isinstance(value, list):
        return _messages(value, "prompt", where)
    raise AlignlabError(f"{where}: field 'prompt' must be text or a list of {{role, content}} messages")


def _completion(value: Any, field: str, where: str) -> str:
    if isinstance(value, list):  # conversational: [{"role": "assistant", "content": ...}]
        _messages(value, field, where)
        if len(value) != 1 or value[0]["role"] != "assistant":
            raise AlignlabError(f"{where}: field {field!r} must be text or a list with one assistant message")
        value = value[0]["content"]
    if not isinstance(value, str):
        raise AlignlabError(f"{where}: field {field!r} must be text")
    if not value.strip():
        raise AlignlabError(f"{where}: field {field!r} is empty")
    return value


def _check(row: dict[str, Any], fields: Sequence[str], where: str) -> None:
    for field in fields:
        if field not in row:
            raise AlignlabError(f"{where}: missing field {field!r}")


def load_preferences(
    data: str | Path | Iterable[dict[str, Any]], *, allow_empty: bool = False
) -> list[PreferenceExample]:
    rows, source = _rows(data, allow_empty)
    examples = []
    for number, row in enumerate(rows, start=1):
        where = f"{source}, row {number}"
        _check(row, ("prompt", "chosen", "rejected"), where)
        examples.append(
            PreferenceExample(
                _prompt(row["prompt"], where),
                _completion(row["chosen"], "chosen", where),
                _completion(row["rejected"], "rejected", where),
            )
        )
    return examples


def load_completions(
    data: str | Path | Iterable[dict[str, Any]], *, labelled: bool = False, allow_empty: bool = False
) -> list[CompletionExample]:
    rows, source = _rows(data, allow_empty)
    fields = ("prompt", "completion", "label") if labelled else ("prompt", "completion")
    examples = []
    for number, row in enumerate(rows, start=1):
        where = f"{source}, row {number}"
        _check(row, fields, where)
        label = row.get("label")
        if labelled and not isinstance(label, bool):
            raise AlignlabError(f"{where}: field 'label' must be true or false")
        examples.append(
            CompletionExample(
                _prompt(row["prompt"], where), _completion(row["completion"], "completion", where), label
            )
        )
    return examples


def load_stepwise(
    data: str | Path | Iterable[dict[str, Any]], *, allow_empty: bool = False
) -> list[StepwiseExample]:
    rows, source = _rows(data, allow_empty)
    examples = []
    for number, row in enumerate(rows, start=1):
        where = f"{source}, row {number}"
        _check(row, ("prompt", "completions", "labels"), where)
        steps, labels = row["completions"], row["labels"]
        if (
            not isinstance(steps, list)
            or not steps
            or not all(isinstance(s, str) and s.strip() for s in steps)
        ):
            raise AlignlabError(f"{where}: field 'completions' must be a non-empty list of non-empty steps")
        if not isinstance(labels, list) or not all(isinstance(label, bool) for label in labels):
            raise AlignlabError(f"{where}: field 'labels' must be a list of true/false")
        if len(labels) != len(steps):
            raise AlignlabError(f"{where}: {len(steps)} completions (steps) but {len(labels)} labels")
        examples.append(StepwiseExample(_prompt(row["prompt"], where), tuple(steps), tuple(labels)))
    return examples


def check_lengths(
    examples: Sequence[PreferenceExample | CompletionExample],
    tokenizer,
    max_length: int | None,
    source: str = "data",
) -> None:
    """Every prompt + completion must fit the model: the error names the row and the field."""
    from ..scoring.encode import encode_completions, encode_prompts

    if max_length is None:
        return
    prompt_lengths = [len(ids) for ids in encode_prompts(tokenizer, [e.prompt for e in examples])]
    fields = (
        ("chosen", "rejected") if examples and isinstance(examples[0], PreferenceExample) else ("completion",)
    )
    for field in fields:
        lengths = [len(ids) for ids in encode_completions(tokenizer, [getattr(e, field) for e in examples])]
        for number, (p, c) in enumerate(zip(prompt_lengths, lengths, strict=True), start=1):
            if p + c > max_length:
                raise AlignlabError(
                    f"{source}, row {number}: prompt + {field} is {p + c} tokens, longer than the model's limit of {max_length}"
                )
