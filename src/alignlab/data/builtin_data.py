"""Small data sets shipped inside the package (``alignlab/data/builtin/*.jsonl``)."""

import json
from importlib import resources
from typing import Any

from ..errors import AlignlabError


def load_builtin(name: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of ``builtin/<name>.jsonl``; a row without a ``required`` field is an error naming it."""
    path = resources.files(__package__) / "builtin" / f"{name}.jsonl"
    return read_jsonl_rows(path.read_text(), f"builtin/{name}.jsonl", required)


def read_jsonl_rows(text: str, source: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
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
