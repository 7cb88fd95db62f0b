"""alignlab.scaling: each fit recovers the parameters of data made from known laws."""

import numpy as np
import pytest

from alignlab.scaling import (
    bootstrap_chinchilla,
    chinchilla_loss,
    envelope_exponent,
    fit_chinchilla,
    fit_power_law,
    isoflop_exponent,
)

BESIROGLU = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
FEW_STARTS = {"a": (5.0, 10.0), "b": (5.0, 10.0), "e": (0.5,), "alpha": (0.5,), "beta": (0.5,)}


def grid(noise=0.0, seed=0):
    n, d = np.meshgrid(np.geomspace(1e7, 1e10, 7), np.geomspace(1e8, 1e12, 7))
    n, d = n.ravel(), d.ravel()
    loss = chinchilla_loss(n, d, **BESIROGLU) * np.exp(
        noise * np.random.default_rng(seed).standard_normal(len(n))
    )
    return n, d, loss


def test_a_power_law_is_recovered_and_straight():
    x = np.geomspace(1e5, 1e9, 9)
    fit = fit_power_law(x, (8.8e13 / x) ** 0.076)  # Kaplan's L(N)
    assert fit.alpha == pytest.approx(0.076, rel=1e-6) and fit.x_c == pytest.approx(8.8e13, rel=1e-4)
    assert fit.r_squared == pytest.approx(1.0) and fit(1e6) == pytest.approx((8.8e13 / 1e6) ** 0.076)
    bent = fit_power_law(x, (8.8e13 / x) ** 0.076 + 1.0)  # an irreducible term bends and flattens it
    assert bent.r_squared < fit.r_squared and bent.alpha < 0.076
    with pytest.raises(ValueError, match="two different x"):
        fit_power_law([5, 5], [1, 2])


def test_approach_3_recovers_the_besiroglu_refit_and_its_compute_optimal_exponent():
    fit = fit_chinchilla(*grid(), starts=FEW_STARTS)
    assert fit.alpha == pytest.approx(0.3478, abs=0.01) and fit.beta == pytest.approx(0.3658, abs=0.01)
    assert fit.E == pytest.approx(1.8172, rel=0.02) and fit.a == pytest.approx(0.5126, abs=0.01)
    noisy = bootstrap_chinchilla(*grid(noise=0.01), resamples=20, starts=FEW_STARTS)
    assert noisy["alpha"][0] < 0.3478 + 0.1 and noisy["alpha"][1] > 0.3478 - 0.1
    assert noisy["a"][0] <= noisy["a"][1]
    with pytest.raises(ValueError, match="at least five"):
        fit_chinchilla([1, 2], [1, 2], [1, 2])


def test_approaches_1_and_2_find_the_compute_optimal_exponent():
    params = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
    a = 0.3658 / (0.3478 + 0.3658)
    budgets = np.geomspace(1e18, 1e22, 6)
    # each IsoFLOP profile spans a decade either side of its optimum, as a sweep designed around it would
    g = (0.3478 * 482.01 / (0.3658 * 2085.43)) ** (1 / (0.3478 + 0.3658))
    centre = g * (budgets / 6) ** a
    compute = np.repeat(budgets, 25)
    n = (centre[:, None] * np.geomspace(0.1, 10, 25)[None, :]).ravel()
    d = compute / (6 * n)
    loss = chinchilla_loss(n, d, **params)
    assert isoflop_exponent(compute, n, loss) == pytest.approx(a, abs=0.03)
    assert envelope_exponent(n, d, loss, bins=6) == pytest.approx(a, abs=0.05)
