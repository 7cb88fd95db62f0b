"""Scaling-law fits, pure functions of (N, D, loss) arrays.

- Kaplan et al. 2020: L(X) = (X_c / X)^alpha_X for X in {N, D, C}, a straight line in log-log space
  (``fit_power_law``; its R^2 in log space says how straight).
- Hoffmann et al. 2022 (Chinchilla), with C = 6 N D:
  - approach 1, ``envelope_exponent``: the lowest loss reached at each compute, and the N that reached it;
    N_opt ~ C^a fitted over those minima;
  - approach 2, ``isoflop_exponent``: for each fixed compute (an IsoFLOP profile), a parabola of loss in
    log N, its minimum the N_opt at that compute; a from the minima;
  - approach 3, ``fit_chinchilla``: L(N, D) = E + A / N^alpha + B / D^beta, fitted by minimising the Huber loss
    (delta 1e-3) between log L and log L-hat with L-BFGS from a grid of starts, in the parameterisation
    log L-hat = LSE(a - alpha log N, b - beta log D, e); the compute-optimal exponent a = beta / (alpha + beta).
- Besiroglu et al. 2024: the same approach-3 fit with bootstrap intervals over the data points
  (``bootstrap_chinchilla``); their refit of Chinchilla: E 1.8172, A 482.01, B 2085.43, alpha 0.3478,
  beta 0.3658, a 0.5126.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLaw:
    """L = (x_c / x)^alpha."""

    alpha: float
    x_c: float
    r_squared: float
    """Of the straight-line fit in log-log space (1: exactly a power law over the range)."""

    def __call__(self, x: np.ndarray | float) -> np.ndarray | float:
        return (self.x_c / np.asarray(x, dtype=float)) ** self.alpha


def fit_power_law(x: Sequence[float], loss: Sequence[float]) -> PowerLaw:
    """Least squares of log L = alpha log x_c - alpha log x."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(loss, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("a power law needs at least two different x values")
    slope, intercept = np.polyfit(lx, ly, 1)
    predicted = slope * lx + intercept
    total = float(((ly - ly.mean()) ** 2).sum())
    r_squared = 1 - float(((ly - predicted) ** 2).sum()) / total if total > 0 else 1.0
    alpha = -float(slope)
    return PowerLaw(alpha, float(math.exp(intercept / alpha)) if alpha else math.inf, r_squared)


@dataclass(frozen=True)
class ChinchillaFit:
    """L(N, D) = E + A / N^alpha + B / D^beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float
    """The summed Huber loss at the optimum."""

    @property
    def a(self) -> float:
        """N_opt ~ C^a with a = beta / (alpha + beta) (and D_opt ~ C^(1 - a))."""
        return compute_optimal_exponent(self.alpha, self.beta)

    def __call__(self, n, d):
        return chinchilla_loss(n, d, self.E, self.A, self.B, self.alpha, self.beta)


def chinchilla_loss(n, d, E: float, A: float, B: float, alpha: float, beta: float):
    return E + A / np.asarray(n, dtype=float) ** alpha + B / np.asarray(d, dtype=float) ** beta


def compute_optimal_exponent(alpha: float, beta: float) -> float:
    return beta / (alpha + beta)


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    small = np.abs(r) <= delta
    return np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))


DEFAULT_STARTS = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
"""Hoffmann et al.'s grid of initialisations (4,500 starts; about a minute on two CPU cores)."""

COARSE_STARTS = {
    "a": (0.0, 10.0, 20.0),
    "b": (0.0, 10.0, 20.0),
    "e": (-1.0, 0.0, 1.0),
    "alpha": (0.0, 0.5, 1.0, 2.0),
    "beta": (0.0, 0.5, 1.0, 2.0),
}
"""A coarser grid over the same ranges (432 starts), for fits repeated in bootstraps and verdicts."""


def fit_chinchilla(
    n: Sequence[float],
    d: Sequence[float],
    loss: Sequence[float],
    *,
    delta: float = 1e-3,
    starts: dict[str, Sequence[float]] | None = None,
) -> ChinchillaFit:
    """Approach 3 (see the module docstring); ``starts`` replaces the grid of initialisations."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    log_n, log_d = np.log(np.asarray(n, dtype=float)), np.log(np.asarray(d, dtype=float))
    log_l = np.log(np.asarray(loss, dtype=float))
    if not (len(log_n) == len(log_d) == len(log_l)) or len(log_l) < 5:
        raise ValueError("approach 3 needs at least five (N, D, loss) points, as arrays of one length")

    def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, e, alpha, beta = p
        terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])  # (3, points)
        predicted = logsumexp(terms, axis=0)
        r = predicted - log_l
        weights = np.exp(terms - predicted)  # d predicted / d term
        dr = np.where(np.abs(r) <= delta, r, delta * np.sign(r))  # Huber'(r)
        grad = np.array([(dr * weights[0]).sum(), (dr * weights[1]).sum(), (dr * weights[2]).sum(),
                         -(dr * weights[0] * log_n).sum(), -(dr * weights[1] * log_d).sum()])  # fmt: skip
        return float(_huber(r, delta).sum()), grad

    grid = starts or DEFAULT_STARTS
    best = None
    for start in itertools.product(*(grid[k] for k in ("a", "b", "e", "alpha", "beta"))):
        result = minimize(objective, np.array(start, dtype=float), jac=True, method="L-BFGS-B")
        if best is None or result.fun < best.fun:
            best = result
    a, b, e, alpha, beta = best.x
    return ChinchillaFit(math.exp(e), math.exp(a), math.exp(b), float(alpha), float(beta), float(best.fun))


def bootstrap_chinchilla(
    n, d, loss, *, resamples: int = 200, seed: int = 0, confidence: float = 0.95, **fit_kwargs
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of E, A, B, alpha, beta and a from fits to data points resampled with replacement."""
    rng = np.random.default_rng(seed)
    n, d, loss = (np.asarray(v, dtype=float) for v in (n, d, loss))
    fits = []
    for _ in range(resamples):
        i = rng.integers(len(loss), size=len(loss))
        fits.append(fit_chinchilla(n[i], d[i], loss[i], **fit_kwargs))
    tail = (1 - confidence) / 2 * 100
    return {
        name: tuple(float(v) for v in np.percentile([getattr(f, name) for f in fits], [tail, 100 - tail]))
        for name in ("E", "A", "B", "alpha", "beta", "a")
    }


def envelope_exponent(
    n: Sequence[float], d: Sequence[float], loss: Sequence[float], *, bins: int = 8
) -> float:
    """Approach 1: compute C = 6 N D is cut into ``bins`` log-spaced bins; in each, the point of lowest loss gives
    N_opt; a is the slope of log N_opt against log C over the bins' minima."""
    n, d, loss = (np.asarray(v, dtype=float) for v in (n, d, loss))
    log_c = np.log(6 * n * d)
    edges = np.linspace(log_c.min(), log_c.max(), bins + 1)
    points = []
    for low, high in itertools.pairwise(edges):
        inside = np.flatnonzero((log_c >= low) & (log_c <= high))
        if len(inside):
            best = inside[np.argmin(loss[inside])]
            points.append((log_c[best], math.log(n[best])))
    if len(points) < 2:
        raise ValueError("approach 1 needs minima in at least two compute bins")
    x, y = zip(*points, strict=True)
    return float(np.polyfit(x, y, 1)[0])


def isoflop_exponent(compute: Sequence[float], n: Sequence[float], loss: Sequence[float]) -> float:
    """Approach 2: for each distinct compute budget, a parabola of loss in log N; its vertex is N_opt; a is the
    slope of log N_opt against log C. Budgets with fewer than three distinct sizes, whose parabola opens downward, or whose
    vertex lies outside the sizes trained (an extrapolated optimum) are skipped."""
    compute, n, loss = (np.asarray(v, dtype=float) for v in (compute, n, loss))
    points = []
    for budget in np.unique(compute):
        at = compute == budget
        if len(np.unique(n[at])) < 3:
            continue
        log_n = np.log(n[at])
        c2, c1, _ = np.polyfit(log_n, loss[at], 2)
        if c2 > 0 and log_n.min() <= -c1 / (2 * c2) <= log_n.max():
            points.append((math.log(budget), -c1 / (2 * c2)))
    if len(points) < 2:
        raise ValueError(
            "approach 2 needs at least two IsoFLOP profiles with a minimum inside the sizes trained"
        )
    x, y = zip(*points, strict=True)
    return float(np.polyfit(x, y, 1)[0])
