"""Synthetic languages with a known entropy rate, for training toy models from scratch.

A ``MarkovLanguage`` is a first-order Markov chain over ``n_words`` words whose rows are sparse Dirichlet
draws: each word has a few likely successors. Because the source is known, the best achievable
cross-entropy is known too — the entropy rate

    H = -sum_i pi_i sum_j P_ij log P_ij      (pi = the stationary distribution of P)

— so a loss curve can be read against the floor it should approach, and against the unigram entropy
-sum_i pi_i log pi_i that a model ignoring context would reach.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np


def _walk(
    rng: np.random.Generator, first: np.ndarray, length: int, rows: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """(len(first), length) word indices from ``first`` on: each next word drawn by inverting the cumulative
    transition rows ``rows(previous words)`` at one uniform draw per sequence."""
    out = np.empty((len(first), length), dtype=np.int64)
    out[:, 0] = first
    for t in range(1, length):
        cumulative = rows(out[:, t - 1])
        u = rng.random(len(first))[:, None]
        out[:, t] = np.minimum((u > cumulative).sum(axis=1), cumulative.shape[1] - 1)
    return out


@dataclass(frozen=True)
class MarkovLanguage:
    n_words: int = 64
    """Vocabulary size (words are named w0, w1, ...)."""
    concentration: float = 0.1
    """Dirichlet concentration of each row: smaller means fewer likely successors, a lower entropy rate."""
    seed: int = 0
    """Seed of the transition matrix (the language itself, not of the samples)."""

    @property
    def words(self) -> list[str]:
        return [f"w{i}" for i in range(self.n_words)]

    @cached_property
    def transitions(self) -> np.ndarray:  # (n_words, n_words), rows sum to 1
        rng = np.random.default_rng(self.seed)
        return rng.dirichlet(np.full(self.n_words, self.concentration), size=self.n_words)

    @cached_property
    def stationary(self) -> np.ndarray:  # (n_words,)
        eigenvalues, eigenvectors = np.linalg.eig(self.transitions.T)
        pi = np.real(eigenvectors[:, np.argmin(np.abs(eigenvalues - 1.0))])
        return pi / pi.sum()

    @property
    def entropy_rate(self) -> float:
        """Nats per token of the source: the loss floor of any model of it."""
        p = self.transitions
        row_entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
        return float(self.stationary @ row_entropy)

    @property
    def unigram_entropy(self) -> float:
        """Nats per token of a model that knows word frequencies but not context."""
        pi = self.stationary
        return float(-(pi * np.log(np.where(pi > 0, pi, 1.0))).sum())

    def sample(self, n_sequences: int, length: int, *, seed: int) -> np.ndarray:
        """(n_sequences, length) word indices; each sequence starts from the stationary distribution."""
        rng = np.random.default_rng(seed)
        cumulative = np.cumsum(self.transitions, axis=1)
        first = rng.choice(self.n_words, size=n_sequences, p=self.stationary)
        return _walk(rng, first, length, lambda previous: cumulative[previous])

    def texts(self, n_sequences: int, length: int, *, seed: int) -> list[str]:
        words = self.words
        return [" ".join(words[i] for i in row) for row in self.sample(n_sequences, length, seed=seed)]


@dataclass(frozen=True)
class TopicMarkovLanguage:
    """A harder language with a known floor: each sequence draws a hidden topic k with probability proportional to
    (k + 1)^-zipf, starts at a uniformly random word and walks topic k's own Markov chain (sparse Dirichlet rows).

    A model must infer the topic from the context and know each topic's transitions, so capacity and data both
    matter, and Zipf-distributed topics leave a long tail to learn: the toy that scaling-law sweeps train on. The
    best achievable loss of a sequence is exact (``best_losses``): with x_0 uniform and independent of the topic,

        -log p(x_1..x_{T-1} | x_0) = -log sum_k pi_k prod_t P_k[x_{t-1}, x_t],

    averaged over its T - 1 predicted tokens, the loss of the Bayes-optimal predictor on that sequence.
    """

    n_words: int = 64
    n_topics: int = 32
    zipf: float = 1.0
    """Exponent of the topic prior (0: uniform topics)."""
    concentration: float = 0.1
    seed: int = 0
    """Seed of the language (topic chains and prior), not of the samples."""

    @property
    def words(self) -> list[str]:
        return [f"w{i}" for i in range(self.n_words)]

    @cached_property
    def topic_prior(self) -> np.ndarray:  # (n_topics,)
        weights = np.arange(1, self.n_topics + 1, dtype=float) ** -self.zipf
        return weights / weights.sum()

    @cached_property
    def transitions(self) -> np.ndarray:  # (n_topics, n_words, n_words), rows sum to 1
        rng = np.random.default_rng(self.seed)
        return rng.dirichlet(np.full(self.n_words, self.concentration), size=(self.n_topics, self.n_words))

    def sample(self, n_sequences: int, length: int, *, seed: int) -> np.ndarray:
        """(n_sequences, length) word indices."""
        rng = np.random.default_rng(seed)
        topics = rng.choice(self.n_topics, size=n_sequences, p=self.topic_prior)
        cumulative = np.cumsum(self.transitions, axis=2)
        first = rng.integers(self.n_words, size=n_sequences)
        return _walk(rng, first, length, lambda previous: cumulative[topics, previous])

    def best_losses(self, sequences: np.ndarray) -> np.ndarray:
        """(n_sequences,): the Bayes-optimal mean next-token loss (nats) over tokens 1..T-1 of each sequence."""
        from scipy.special import logsumexp

        with np.errstate(divide="ignore"):
            log_p = np.log(self.transitions)
        steps = log_p[:, sequences[:, :-1], sequences[:, 1:]].sum(axis=2)  # (n_topics, n_sequences)
        joint = logsumexp(steps + np.log(self.topic_prior)[:, None], axis=0)
        return -joint / (sequences.shape[1] - 1)
