"""Metrics that reduce a scorer's per-sample values to one number, named as in Inspect.

Values map to floats as Inspect's ``value_to_float`` does: C (correct) 1, P (partial) 0.5, I (incorrect)
and N 0, booleans and "yes"/"no" as 1/0, numbers as they are. A failed score (a judge that could not be
parsed) is not a value: it is counted, never averaged in.
"""

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import AlignlabError

LETTER_VALUES = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}


def value_to_float(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in LETTER_VALUES:
            return LETTER_VALUES[text.upper()]
        if text.lower() in ("yes", "true"):
            return 1.0
        if text.lower() in ("no", "false"):
            return 0.0
        try:
            return float(text)
        except ValueError:
            pass
    raise AlignlabError(f"score value {value!r} has no numeric meaning (use C/P/I, a bool or a number)")


def accuracy(values: Sequence[float]) -> float:
    """Mean of the values (1 correct, 0 incorrect): the share right."""
    return float(np.mean(values)) if values else math.nan


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def stderr(values: Sequence[float]) -> float:
    """Standard error of the mean: sample standard deviation / sqrt(n)."""
    n = len(values)
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else math.nan


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    if len(values) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


METRICS: dict[str, Callable[[Sequence[float]], float]] = {
    "accuracy": accuracy,
    "mean": mean,
    "stderr": stderr,
}


def compute_metrics(names: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    """Each named metric over ``values``; ``bootstrap_ci`` gives two entries (``ci_low``, ``ci_high``)."""
    out: dict[str, float] = {}
    for name in names:
        if name == "bootstrap_ci":
            out["ci_low"], out["ci_high"] = bootstrap_ci(values)
        elif name in METRICS:
            out[name] = METRICS[name](values)
        else:
            raise AlignlabError(
                f"unknown metric {name!r}: use one of {', '.join([*METRICS, 'bootstrap_ci'])}"
            )
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE = sum over equal-width confidence bins b of (n_b / n) |accuracy_b - mean confidence_b|."""
    conf, right = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return math.nan
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(np.abs(right[which == b].mean() - conf[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))  # fmt: skip
