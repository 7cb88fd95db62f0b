"""Synthetic tasks with a gold reward that is a program, so toy models show RLHF's phenomena on a CPU.

``SentimentTask`` stands in for IMDb controlled sentiment (Rafailov et al. 2023; Ziegler et al. 2019):
text comes from a Markov language in which a few words are "good" and a few "bad", and the gold reward of
a completion is its share of good words minus its share of bad ones. ``AdditionTask`` is verifiable
arithmetic for GRPO: the reward is 1 for the right sum.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .formats import CompletionExample, PreferenceExample
from .synthetic import MarkovLanguage


@dataclass(frozen=True)
class SentimentTask:
    n_good: int = 8
    n_bad: int = 8
    n_neutral: int = 48
    concentration: float = 0.3
    """Dirichlet concentration of the language's transition rows."""
    prompt_length: int = 4
    seed: int = 0

    @cached_property
    def language(self) -> MarkovLanguage:
        return MarkovLanguage(n_words=len(self.words), concentration=self.concentration, seed=self.seed)

    @cached_property
    def words(self) -> list[str]:
        return (
            [f"good{i}" for i in range(self.n_good)]
            + [f"bad{i}" for i in range(self.n_bad)]
            + [f"w{i}" for i in range(self.n_neutral)]
        )

    def texts(self, n: int, length: int, *, seed: int) -> list[str]:
        words = self.words
        return [" ".join(words[i] for i in row) for row in self.language.sample(n, length, seed=seed)]

    def prompts(self, n: int, *, seed: int) -> list[str]:
        return self.texts(n, self.prompt_length, seed=seed)

    def gold_reward(self, completion: str) -> float:
        """(#good - #bad) / #words, in [-1, 1]; 0 for an empty completion."""
        tokens = completion.split()
        if not tokens:
            return 0.0
        good = sum(t.startswith("good") for t in tokens)
        bad = sum(t.startswith("bad") for t in tokens)
        return (good - bad) / len(tokens)

    def reward_fn(self, prompts: Sequence, completions: Sequence[str]) -> list[float]:
        """The gold reward as a TRL-style reward function."""
        return [self.gold_reward(c) for c in completions]


def label_pairs(
    prompts: Sequence[str],
    completions_a: Sequence[str],
    completions_b: Sequence[str],
    rewards_a: Sequence[float],
    rewards_b: Sequence[float],
    *,
    temperature: float = 0.1,
    flip_rate: float = 0.0,
    seed: int = 0,
) -> tuple[list[PreferenceExample], float]:
    """Preference pairs labelled by a gold reward through Bradley-Terry noise,
    P(a preferred) = sigmoid((r_a - r_b) / temperature), then flipped with probability ``flip_rate``.

    Returns the pairs and the fraction whose label agrees with the gold reward (ties excluded).
    """
    rng = np.random.default_rng(seed)
    pairs, agree, decided = [], 0, 0
    for p, a, b, ra, rb in zip(prompts, completions_a, completions_b, rewards_a, rewards_b, strict=True):
        if a == b:
            continue
        a_wins = rng.random() < 1 / (1 + np.exp(-(ra - rb) / temperature))
        if rng.random() < flip_rate:
            a_wins = not a_wins
        chosen, rejected = (a, b) if a_wins else (b, a)
        pairs.append(PreferenceExample(p, chosen, rejected))
        if ra != rb:
            decided += 1
            agree += (ra > rb) == a_wins
    return pairs, agree / max(decided, 1)


@dataclass(frozen=True)
class AdditionTask:
    """``a + b =`` -> the digits of the sum, for single- or multi-digit operands."""

    max_operand: int = 9

    @property
    def words(self) -> list[str]:
        return [str(d) for d in range(10)] + ["+", "="]

    @staticmethod
    def spell(n: int) -> str:
        return " ".join(str(n))

    def problems(self) -> list[tuple[int, int]]:
        return [(a, b) for a in range(self.max_operand + 1) for b in range(self.max_operand + 1)]

    def split(
        self, train_fraction: float, *, seed: int
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        problems = self.problems()
        random.Random(seed).shuffle(problems)
        cut = int(len(problems) * train_fraction)
        return problems[:cut], problems[cut:]

    def prompt(self, a: int, b: int) -> str:
        return f"{self.spell(a)} + {self.spell(b)} ="

    def examples(self, problems: Sequence[tuple[int, int]]) -> list[CompletionExample]:
        return [CompletionExample(self.prompt(a, b), f"{self.spell(a + b)} <eos>") for a, b in problems]

    @staticmethod
    def answer(prompt: str) -> int:
        left, right = prompt.rstrip(" =").split(" + ")
        return int(left.replace(" ", "")) + int(right.replace(" ", ""))

    def correct(self, prompt: str, completion: str) -> bool:
        return completion.replace(" ", "") == str(self.answer(prompt))

    def reward_fn(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        return [float(self.correct(p, c)) for p, c in zip(prompts, completions, strict=True)]
