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
    too_small = (
        centre[:, None] * np.geomspace(0.01, 0.3, 25)[None, :]
    ).ravel()  # every size below the optimum
    with pytest.raises(ValueError, match="inside the sizes trained"):
        isoflop_exponent(compute, too_small, chinchilla_loss(too_small, compute / (6 * too_small), **params))


# --- the sweep runner -----------------------------------------------------------------------------------------


def _square(point):
    """A sweep function that leaves a trace of every call (appends to a file named in the point)."""
    import os
    import time

    with open(point["trace"], "a") as f:
        f.write(f"{point['x']} {os.getpid()}\n")
    time.sleep(point.get("sleep", 0))
    return {"y": point["x"] ** 2}


def _calls(trace):
    return [line.split()[0] for line in trace.read_text().splitlines()] if trace.exists() else []


def test_a_sweep_is_resumable_and_reruns_nothing_it_has(tmp_path):
    from alignlab.scaling.sweep import run_sweep

    trace = tmp_path / "trace"
    points = [{"x": x, "trace": str(trace)} for x in range(4)]
    first = run_sweep(points[:2], _square, tmp_path / "sweep")  # as if stopped after two points
    assert [r["y"] for r in first] == [0, 1] and not any(r["cached"] for r in first)
    again = run_sweep(points, _square, tmp_path / "sweep")
    assert [r["y"] for r in again] == [0, 1, 4, 9] and [r["cached"] for r in again] == [
        True,
        True,
        False,
        False,
    ]
    assert _calls(trace) == ["0", "1", "2", "3"] and again[2]["point"] == points[2]
    assert not list((tmp_path / "sweep").glob("*.lock")) and not list((tmp_path / "sweep").glob(".*.tmp"))
    with pytest.raises(ValueError, match="same point twice"):
        run_sweep([points[0], points[0]], _square, tmp_path / "sweep")


def test_two_processes_share_a_sweep_and_train_each_point_once(tmp_path):
    import multiprocessing

    from alignlab.scaling.sweep import run_sweep

    trace = tmp_path / "trace"
    points = [{"x": x, "trace": str(trace), "sleep": 0.2} for x in range(6)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        both = pool.starmap(
            run_sweep, [(points, _square, tmp_path / "sweep"), (points[::-1], _square, tmp_path / "sweep")]
        )
    assert sorted(_calls(trace)) == [str(x) for x in range(6)]  # each point ran exactly once
    assert len({line.split()[1] for line in trace.read_text().splitlines()}) == 2  # and both processes worked
    assert [r["y"] for r in both[0]] == [x * x for x in range(6)] and [r["y"] for r in both[1]] == [
        25,
        16,
        9,
        4,
        1,
        0,
    ]


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from alignlab.scaling.sweep import point_key, run_sweep

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    point = {"x": 3, "trace": str(tmp_path / "trace")}
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / f"{point_key(point)}.lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)})
    )
    assert run_sweep([point], _square, folder, poll_seconds=0.01)[0]["y"] == 9


# --- the language and one sweep point ---------------------------------------------------------------------------


def test_the_topic_language_floor_is_the_bayes_optimal_loss():
    from alignlab.data import MarkovLanguage, TopicMarkovLanguage

    one = TopicMarkovLanguage(n_words=16, n_topics=1, seed=3)
    seqs = one.sample(50, 20, seed=0)
    direct = -np.log(one.transitions[0][seqs[:, :-1], seqs[:, 1:]]).mean(axis=1)
    assert one.best_losses(seqs) == pytest.approx(direct)

    many = TopicMarkovLanguage(n_words=16, n_topics=6, zipf=1.0, seed=3)
    rng = np.random.default_rng(1)
    topics = rng.choice(6, size=400, p=many.topic_prior)
    seqs = many.sample(400, 30, seed=1)  # same seed: the same topics as drawn above
    oracle = -np.log(many.transitions[topics[:, None], seqs[:, :-1], seqs[:, 1:]]).mean(axis=1)
    bayes = many.best_losses(seqs)
    assert np.all(bayes <= oracle - np.log(many.topic_prior[topics]) / 29 + 1e-9)  # p(x) >= pi_k p_k(x)
    assert bayes.mean() > oracle.mean()  # not knowing the topic costs something on average
    assert bayes.mean() < MarkovLanguage(n_words=16).unigram_entropy + 1  # and it is a real floor, not ln V


def test_a_sweep_point_trains_a_toy_llama_and_counts_its_parameters():
    from alignlab.models import word_tokenizer
    from alignlab.scaling.toy_lm import language_point, non_embedding_parameters, train_language_point

    language = dict(n_words=16, n_topics=2)
    point = language_point(d_model=8, n_layers=1, tokens=4 * 16 * 4, seed=0, language=language, seq_len=16,
                           batch_size=4, evals=2, eval_sequences=8)  # fmt: skip
    result = train_language_point(point)
    assert result["tokens"] == 256 and len(result["sequence_losses"]) == 8 and len(result["curve"]) == 2
    assert result["non_embedding_parameters"] == non_embedding_parameters(8, 1, language, 16)
    vocabulary = len(word_tokenizer([f"w{i}" for i in range(16)]))
    assert (
        result["parameters"] - result["non_embedding_parameters"] == vocabulary * 8
    )  # tied head: counted once
    assert result["curve"][-1] == (256, pytest.approx(result["loss"]))
