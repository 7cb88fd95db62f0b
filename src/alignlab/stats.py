"""The statistics that verdicts rest on: estimates with standard errors, exact tests and bootstrap intervals.

Every verdict in the catalog compares noisy numbers; these helpers make the noise explicit. An ``Estimate``
is a value with its standard error and sample size, and says whether it is clearly (by more than two
standard errors) above or below a threshold. Tests come from scipy; bootstraps are seeded.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Z = 2.0
"""How many standard errors make a difference "clear": about a 95% two-sided interval."""


@dataclass(frozen=True)
class Estimate:
    """A measured value, its standard error and the number of observations behind it."""

    value: float
    se: float
    n: int

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.se)

    def clearly_above(self, threshold: float, z: float = Z) -> bool:
        """value − z·se > threshold (False when anything is NaN)."""
        return self.finite and self.value - z * self.se > threshold

    def clearly_below(self, threshold: float, z: float = Z) -> bool:
        return self.finite and self.value + z * self.se < threshold

    def interval(self, z: float = Z) -> tuple[float, float]:
        return self.value - z * self.se, self.value + z * self.se

    def __str__(self) -> str:
        return f"{self.value:.3g} ± {self.se:.2g} (n = {self.n})"


def mean_estimate(values: Sequence[float]) -> Estimate:
    """The mean with its standard error sqrt(s² / n) (s² the sample variance); NaN values are dropped, and
    fewer than two values give an infinite standard error (one observation says nothing about its noise)."""
    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(array)
    if n == 0:
        return Estimate(float("nan"), float("nan"), 0)
    se = float(array.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    return Estimate(float(array.mean()), se, n)


def proportion_estimate(successes: int, n: int) -> Estimate:
    """A share with its binomial standard error sqrt(p (1 − p) / n)."""
    if n == 0:
        return Estimate(float("nan"), float("nan"), 0)
    p = successes / n
    return Estimate(p, math.sqrt(p * (1 - p) / n), n)


def difference(a: Estimate, b: Estimate) -> Estimate:
    """a − b for independent estimates: se = sqrt(se_a² + se_b²)."""
    return Estimate(a.value - b.value, math.hypot(a.se, b.se), min(a.n, b.n))


def binomial_p_value(successes: int, n: int, p: float = 0.5, alternative: str = "greater") -> float:
    """Exact binomial test of ``successes`` out of ``n`` against rate ``p`` (scipy's binomtest); 1.0 when
    n = 0 (no evidence)."""
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(successes, n, p, alternative=alternative).pvalue)


def mcnemar_p_value(only_a: int, only_b: int) -> float:
    """Exact McNemar test for paired binary outcomes: ``only_a`` pairs where A succeeded and B failed,
    ``only_b`` the reverse; one-sided, H1: A succeeds more often. The discordant pairs are Binomial(·, 1/2)
    under the null."""
    return binomial_p_value(only_a, only_a + only_b, 0.5, "greater")


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(statistic, low, high): the percentile bootstrap interval of ``statistic`` over ``values``
    (resampled with replacement along the first axis)."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(data), size=(resamples, len(data)))
    draws = np.array([statistic(data[i]) for i in idx])
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail])
    return float(statistic(data)), float(low), float(high)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean(a − b), low, high) by resampling the pairs together."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError(f"paired samples need equal shapes, got {a_.shape} and {b_.shape}")
    return bootstrap_interval(a_ - b_, confidence=confidence, resamples=resamples, seed=seed)


def auroc_estimate(labels: Sequence[bool], scores: Sequence[float]) -> Estimate:
    """Area under the ROC curve with the Hanley & McNeil (1982) standard error; NaN when one class is
    missing."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return Estimate(float("nan"), float("nan"), len(y))
    from scipy.stats import rankdata

    ranks = rankdata(s)
    auc = float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return Estimate(auc, math.sqrt(max(var, 0.0)), len(y))


def pooled_estimate(estimates: Sequence[Estimate]) -> Estimate:
    """The mean of per-seed estimates, with the larger of two standard errors: the within-seed one,
    sqrt(Σ se_i²) / k, and (for k > 1) the between-seed one, sd / sqrt(k). Seeds are the replicates a
    reviewer would rerun, so their spread must count; each seed's own noise must count too."""
    finite = [e for e in estimates if e.finite or (math.isfinite(e.value) and e.se == math.inf)]
    k = len(finite)
    if k == 0:
        return Estimate(float("nan"), float("nan"), 0)
    values = np.array([e.value for e in finite])
    within = math.sqrt(sum(e.se**2 for e in finite)) / k
    between = float(values.std(ddof=1) / math.sqrt(k)) if k > 1 else 0.0
    return Estimate(float(values.mean()), max(within, between), sum(e.n for e in finite))
