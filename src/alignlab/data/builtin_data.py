"""Small data sets shipped inside the package (``alignlab/data/builtin/*.jsonl``)."""

from importlib import resources
from typing import Any

from .formats import read_jsonl_rows


def load_builtin(name: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of ``builtin/<name>.jsonl``; a row without a ``required`` field is an error naming it."""
    path = resources.files(__package__) / "builtin" / f"{name}.jsonl"
    return read_jsonl_rows(path.read_text(), f"builtin/{name}.jsonl", required)
