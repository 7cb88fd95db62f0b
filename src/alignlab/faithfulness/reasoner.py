"""Any model that writes reasoning before an answer, seen through the two calls faithfulness tests need: write
(or continue) reasoning for a question, and give the answer that follows a given reasoning.

The text layout is ``question + reasoning_cue + reasoning + answer_cue + answer``; reasoning is split into steps
by ``step_separator`` (sentences for language models, single words for a toy scratchpad), and tests cut, corrupt or
replace it at step boundaries.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..generation import Generator, SamplingParams


@dataclass(frozen=True)
class ReasoningFormat:
    reasoning_cue: str = "\nLet's think step by step."
    answer_cue: str = "\nSo the answer is"
    step_separator: str = r"(?<=[.!?])\s+|\n+"
    """A regex that separates steps (the default: sentences and lines)."""
    answer_pattern: str = r"\(?([A-Za-z0-9-]+)\)?"
    """The answer is the first match's group 1 in what follows the answer cue, e.g. 'B' in ' (B).'."""
    continuation_separator: str = ""
    """Put between a reasoning prefix and the model's continuation of it: " " for word-level tokenizers, whose
    decoded continuations do not start with the space between words."""

    def step_spans(self, reasoning: str) -> list[tuple[int, int]]:
        """(start, end) of each non-empty step, in order."""
        spans, start = [], 0
        for separator in re.finditer(self.step_separator, reasoning):
            if reasoning[start : separator.start()].strip():
                spans.append((start, separator.start()))
            start = separator.end()
        if reasoning[start:].strip():
            spans.append((start, len(reasoning)))
        return spans

    def truncate(self, reasoning: str, fraction: float) -> str:
        """The reasoning cut after the first round(fraction x steps) steps (0: none of it, 1: all)."""
        spans = self.step_spans(reasoning)
        keep = round(fraction * len(spans))
        return reasoning[: spans[keep - 1][1]] if keep else ""

    def parse_answer(self, text: str) -> str:
        found = re.search(self.answer_pattern, text)
        return found.group(1) if found else ""


@dataclass
class Reasoner:
    """A ``Generator`` (a local model, an endpoint) in a ``ReasoningFormat``; decoding is greedy unless
    ``temperature`` is set."""

    generator: Generator
    format: ReasoningFormat = ReasoningFormat()
    max_reasoning_tokens: int = 256
    max_answer_tokens: int = 8
    temperature: float = 0.0
    seed: int = 0

    def reason(self, questions: Sequence[str], prefixes: Sequence[str] | None = None) -> list[str]:
        """Each question's reasoning, continuing ``prefixes`` where given (the prefix is part of what is returned);
        generation stops at the answer cue (with or without its leading whitespace)."""
        prefixes = list(prefixes) if prefixes is not None else [""] * len(questions)
        prompts = [q + self.format.reasoning_cue + p for q, p in zip(questions, prefixes, strict=True)]
        cue = self.format.answer_cue
        params = SamplingParams(max_new_tokens=self.max_reasoning_tokens, temperature=self.temperature,
                                stop=tuple(sorted({cue, cue.strip()} - {""})), seed=self.seed)  # fmt: skip
        separator = self.format.continuation_separator
        return [
            p + (separator if p else "") + c.text.rstrip()
            for p, c in zip(prefixes, self.generator.generate(prompts, params), strict=True)
        ]

    def answer(self, questions: Sequence[str], reasonings: Sequence[str]) -> list[str]:
        """The answer the model gives right after each reasoning (forced by the answer cue)."""
        prompts = [q + self.format.reasoning_cue + r + self.format.answer_cue for q, r in zip(questions, reasonings, strict=True)]  # fmt: skip
        params = SamplingParams(
            max_new_tokens=self.max_answer_tokens, temperature=self.temperature, seed=self.seed
        )
        return [self.format.parse_answer(c.text) for c in self.generator.generate(prompts, params)]
