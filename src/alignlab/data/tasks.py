"""Synthetic tasks with a gold reward that is a program, so toy models show RLHF's phenomena on a CPU.

``SentimentTask`` stands in for IMDb controlled sentiment (Rafailov et al. 2023; Ziegler et al. 2019):
text comes from a Markov language over real English words, a few of them positive ("great", "wonderful")
and a few negative ("awful", "boring"), and the gold reward of a completion is its share of positive words
minus its share of negative ones — so a language model that reads English can judge "which reply is more
positive?" without being told the rule. ``AdditionTask`` is verifiable arithmetic for GRPO: the reward is 1
for the right sum.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .formats import CompletionExample, PreferenceExample
from .synthetic import MarkovLanguage

POSITIVE_WORDS = ("good", "great", "excellent", "wonderful", "happy", "love", "brilliant", "delightful")
NEGATIVE_WORDS = ("bad", "terrible", "awful", "horrible", "sad", "hate", "boring", "dreadful")
NEUTRAL_WORDS = (
    "the", "a", "movie", "film", "story", "plot", "actor", "scene", "and", "was", "is", "it", "this", "with",
    "of", "to", "in", "on", "ending", "music", "director", "character", "camera", "screen", "night", "day",
    "city", "house", "dog", "car", "road", "book", "friend", "family", "time", "year", "water", "light", "door",
    "window", "table", "street", "morning", "evening", "train", "letter", "garden", "river",
)  # fmt: skip


@dataclass(frozen=True)
class SentimentTask:
    concentration: float = 0.3
    """Dirichlet concentration of the language's transition rows."""
    prompt_length: int = 4
    seed: int = 0
    repetition_penalty: float = 0.0
    """Gold reward minus this times the share of words that repeat an earlier word of the completion: a
    second term that reward models trained on few base-model samples (which rarely repeat) tend to miss."""

    @cached_property
    def language(self) -> MarkovLanguage:
        return MarkovLanguage(n_words=len(self.words), concentration=self.concentration, seed=self.seed)

    @property
    def words(self) -> list[str]:
        return [*POSITIVE_WORDS, *NEGATIVE_WORDS, *NEUTRAL_WORDS]

    def texts(self, n: int, length: int, *, seed: int) -> list[str]:
        words = self.words
        return [" ".join(words[i] for i in row) for row in self.language.sample(n, length, seed=seed)]

    def prompts(self, n: int, *, seed: int) -> list[str]:
        return self.texts(n, self.prompt_length, seed=seed)

    def sentiment(self, completion: str) -> float:
        """(#positive − #negative) / #words, in [−1, 1]; 0 for an empty completion."""
        tokens = completion.split()
        if not tokens:
            return 0.0
        good = sum(t in POSITIVE_WORDS for t in tokens)
        bad = sum(t in NEGATIVE_WORDS for t in tokens)
        return (good - bad) / len(tokens)

    def gold_reward(self, completion: str) -> float:
        """``sentiment`` minus ``repetition_penalty`` × the share of repeated words."""
        tokens = completion.split()
        if not tokens or not self.repetition_penalty:
            return self.sentiment(completion)
        repeated = 1 - len(set(tokens)) / len(tokens)
        return self.sentiment(completion) - self.repetition_penalty * repeated

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
    drop_ties: bool = False,
) -> tuple[list[PreferenceExample], float]:
    """Preference pairs labelled by a gold reward through Bradley-Terry noise,
    P(a preferred) = sigmoid((r_a - r_b) / temperature), then flipped with probability ``flip_rate``.
    ``temperature=0`` labels without noise (the higher reward wins; a tie is a coin flip unless dropped).

    Returns the pairs and the fraction whose label agrees with the gold reward (ties excluded).
    """
    rng = np.random.default_rng(seed)
    pairs, agree, decided = [], 0, 0
    for p, a, b, ra, rb in zip(prompts, completions_a, completions_b, rewards_a, rewards_b, strict=True):
        if a == b or (drop_ties and ra == rb):
            continue
        if temperature == 0:
            a_wins = ra > rb if ra != rb else bool(rng.random() < 0.5)
        else:
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
