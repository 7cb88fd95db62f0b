"""Diversity of generated test cases, as red-teaming papers report it beside the failure rate.

- distinct-n (Li et al. 2016): distinct n-grams / all n-grams over the whole set; 1 when nothing repeats.
- self-BLEU (Zhu et al. 2018, Texygen; used by Perez et al. 2022): the mean over cases of BLEU-n of one case
  against all the others as references; 1 when every case is a copy of another, so *lower* is more diverse.
  BLEU is NLTK's ``sentence_bleu`` with uniform weights up to ``n`` and smoothing method 1."""

import random
from collections.abc import Sequence


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Share of the whitespace-token n-grams over all ``texts`` that are distinct (NaN when there are none)."""
    grams = [g for t in texts for g in _ngrams(t.split(), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def self_bleu(texts: Sequence[str], n: int = 4, *, max_hypotheses: int = 200, seed: int = 0) -> float:
    """Mean BLEU-``n`` of each text against the rest; NaN for fewer than two non-empty texts."""
    scores = self_bleu_scores(texts, n, max_hypotheses=max_hypotheses, seed=seed)
    return sum(scores) / len(scores) if scores else float("nan")


def self_bleu_scores(
    texts: Sequence[str], n: int = 4, *, max_hypotheses: int = 200, seed: int = 0
) -> list[float]:
    """BLEU-``n`` of each of at most ``max_hypotheses`` texts (drawn at random) against all the others as
    references; empty for fewer than two non-empty texts."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    tokenized = [t.split() for t in texts if t.split()]
    if len(tokenized) < 2:
        return []
    order = list(range(len(tokenized)))
    random.Random(seed).shuffle(order)
    weights = (1 / n,) * n
    smoothing = SmoothingFunction().method1
    return [
        sentence_bleu(tokenized[:i] + tokenized[i + 1 :], tokenized[i], weights, smoothing_function=smoothing)
        for i in order[:max_hypotheses]
    ]
