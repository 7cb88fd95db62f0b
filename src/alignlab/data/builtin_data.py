"""Small data sets shipped inside the package (``alignlab/data/builtin/*.jsonl``)."""

import random
from importlib import resources
from typing import Any

from .formats import read_jsonl_rows


def load_builtin(name: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of ``builtin/<name>.jsonl``; a row without a ``required`` field is an error naming it."""
    path = resources.files(__package__) / "builtin" / f"{name}.jsonl"
    return read_jsonl_rows(path.read_text(), f"builtin/{name}.jsonl", required)


def harm_contrast_pairs() -> list[tuple[str, str]]:
    """The built-in contrast set as (harmful request, harmless look-alike) pairs, the i-th of each kind paired."""
    rows = load_builtin("harm_contrast_prompts", ("prompt", "kind"))
    harmful = [r["prompt"] for r in rows if r["kind"] == "harmful"]
    lookalike = [r["prompt"] for r in rows if r["kind"] == "benign_lookalike"]
    return list(zip(harmful, lookalike, strict=False))


def split_pairs(pairs: list[tuple[str, str]], n_train: int, *, seed: int) -> tuple[list, list]:
    """The pairs shuffled with ``seed``: the first ``n_train`` to train on, the rest held out."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    return [pairs[i] for i in order[:n_train]], [pairs[i] for i in order[n_train:]]
