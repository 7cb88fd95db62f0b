"""Best-of-n selection, measured exactly, and the functional forms of reward-model overoptimization.

Best-of-n picks the highest-scored of n samples. From one pool of m samples per prompt, the expected value
of the pick over all n-subsets has a closed form (no sampling noise): with the pool ranked by score from
the lowest (rank 1) to the highest (rank m),

    P(rank r is the top of a random n-subset) = C(r − 1, n − 1) / C(m, n),

so E[value of the pick] = Σ_r value_r · C(r − 1, n − 1) / C(m, n). Ties in score go to the later sample.

Gao, Schulman & Hilton (2022) fit the gold reward against d = sqrt(KL(π ‖ π_init)):

    best-of-n   R(d) = d (α − β d),        KL_bon(n) = log n − (n − 1) / n
    RL          R(d) = d (α − β log d)
"""

import math

import numpy as np


def best_of_n_weights(m: int, n: int) -> np.ndarray:
    """(m,): the probability that the sample of score rank r (1 = lowest) is the pick, for r = 1..m."""
    if not 1 <= n <= m:
        raise ValueError(f"n must be between 1 and the pool size {m}, got {n}")
    return np.array([math.comb(r - 1, n - 1) for r in range(1, m + 1)], dtype=float) / math.comb(m, n)


def expected_best_of_n(scores: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per prompt, the expected ``values`` of the highest-``scores`` sample among n drawn without
    replacement from the prompt's pool. scores, values: (prompts, m) -> (prompts,)."""
    scores, values = np.atleast_2d(scores), np.atleast_2d(values)
    order = np.argsort(scores, axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1) @ best_of_n_weights(scores.shape[1], n)


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n ‖ base) = log n − (n − 1) / n (an upper bound; Beirami et al. 2024)."""
    return math.log(n) - (n - 1) / n


def fit_bon(d: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Least squares for R = α d − β d² (no intercept): returns (α, β)."""
    coef, *_ = np.linalg.lstsq(np.stack([d, -(d**2)], axis=1), r, rcond=None)
    return float(coef[0]), float(coef[1])


def fit_rl(d: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Least squares for R = α d − β d log d, on d > 0: returns (α, β)."""
    keep = d > 0
    coef, *_ = np.linalg.lstsq(np.stack([d[keep], -d[keep] * np.log(d[keep])], axis=1), r[keep], rcond=None)
    return float(coef[0]), float(coef[1])
