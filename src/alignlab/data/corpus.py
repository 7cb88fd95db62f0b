"""Offline English text for interpretability work: the prose paragraphs of the Python standard library's
docstrings (about 2,600 paragraphs, 600k characters, 140k SmolLM2 tokens on CPython 3.11).

Every machine with Python has it, so lenses, SAEs and probes can be trained without a network. It is
technical English — good for residual-stream statistics, not a substitute for web text.
"""

import ast
import functools
import re
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AlignlabError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

SKIPPED_PACKAGES = {"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo"}


def _is_prose(text: str) -> bool:
    letters = sum(c.isalpha() or c == " " for c in text)
    return len(text) >= 120 and letters / len(text) > 0.9 and text[0].isupper() and text.endswith(".")


@functools.cache
def docstring_corpus(max_files: int | None = None) -> tuple[str, ...]:
    """Prose paragraphs (one line each) from the standard library's docstrings, in a fixed order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        path for path in root.rglob("*.py") if not SKIPPED_PACKAGES.intersection(path.relative_to(root).parts)
    )[:max_files]
    paragraphs = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for paragraph in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                    text = " ".join(paragraph.split())
                    if _is_prose(text):
                        paragraphs.append(text)
    return tuple(paragraphs)


def token_blocks(
    tokenizer: "PreTrainedTokenizerBase", texts: Sequence[str], seq_len: int, max_blocks: int | None = None
) -> "torch.Tensor":
    """Pack ``texts`` into (N, seq_len) token blocks, each starting with BOS when the tokenizer has one
    (the way SAELens and the tuned lens feed models), texts joined by newlines. The tail is dropped."""
    import torch

    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    body = seq_len - len(bos)
    stream: list[int] = []
    for text in texts:
        stream += tokenizer(text + "\n", add_special_tokens=False)["input_ids"]
        if max_blocks is not None and len(stream) >= max_blocks * body:
            break
    n = len(stream) // body if max_blocks is None else min(len(stream) // body, max_blocks)
    if n == 0:
        raise ValueError(f"{len(stream)} tokens of text cannot fill one block of {seq_len}")
    blocks = torch.tensor(stream[: n * body]).view(n, body)
    return torch.cat([torch.tensor(bos).expand(n, len(bos)), blocks], dim=1)


def train_eval_blocks(
    tokenizer: "PreTrainedTokenizerBase", seq_len: int, train_blocks: int, eval_blocks: int
) -> tuple["torch.Tensor", "torch.Tensor"]:
    """The docstring corpus as ``train_blocks`` training blocks followed by ``eval_blocks`` held-out ones
    (later text, so no block is in both); an error names the flags when the corpus is too small."""
    blocks = token_blocks(tokenizer, docstring_corpus(), seq_len, max_blocks=train_blocks + eval_blocks)
    if len(blocks) < train_blocks + eval_blocks:
        raise AlignlabError(
            f"--set train_blocks/eval_blocks: the corpus fills only {len(blocks)} blocks of {seq_len} tokens, "
            f"not {train_blocks} + {eval_blocks}"
        )
    return blocks[:train_blocks], blocks[train_blocks:]
