import copy

import pytest
import torch

from alignlab.training import LossOutput, RunOptions, TrainConfig, causal_lm_step, train


def _batches(ids: torch.Tensor, n: int):
    return iter([{"input_ids": ids}] * n)


def test_loss_falls_on_a_repeated_batch_and_every_parameter_changes(toy):
    model = copy.deepcopy(toy[0])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    ids = torch.randint(7, 71, (4, 16))
    history = train(
        model,
        causal_lm_step,
        _batches(ids, 30),
        TrainConfig(steps=30, lr=1e-2, log_every=1, schedule="constant"),
    )
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    unchanged = [name for name, p in model.named_parameters() if torch.equal(p, before[name])]
    assert unchanged == []


def test_gradient_accumulation_matches_one_big_batch(toy):
    ids = torch.randint(7, 71, (8, 12))
    # SGD: Adam's first step is nearly sign(g), which turns float round-off in tiny gradients into lr-sized
    # differences; with SGD the update is proportional to the gradient, so equal gradients give equal weights.
    config = dict(steps=1, lr=1e-1, schedule="constant", grad_clip=None, optimizer="sgd")
    big, accumulated = copy.deepcopy(toy[0]), copy.deepcopy(toy[0])
    train(big, causal_lm_step, _batches(ids, 1), TrainConfig(**config))
    halves = iter([{"input_ids": ids[:4]}, {"input_ids": ids[4:]}])
    train(accumulated, causal_lm_step, halves, TrainConfig(**config, grad_accum=2))
    for p, q in zip(big.parameters(), accumulated.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_step_metrics_are_averaged_into_the_log(toy):
    model = copy.deepcopy(toy[0])
    values = iter(range(100))

    def step(m, batch, progress):
        return LossOutput(
            causal_lm_step(m, batch, progress).loss, {"fraction": progress.fraction, "k": next(values)}
        )

    history = train(model, step, _batches(torch.randint(7, 71, (2, 8)), 4), TrainConfig(steps=4, log_every=2))
    assert [h["step"] for h in history] == [2, 4]
    assert [h["k"] for h in history] == [0.5, 2.5] and [h["fraction"] for h in history] == [0.125, 0.625]


class Crash(Exception):
    pass


def test_a_killed_run_resumes_to_the_same_weights(toy, tmp_path):
    """Crash after step 7 (checkpoint at 5), resume, finish 12 steps: equal to an uninterrupted run."""
    data = torch.randint(7, 71, (12, 4, 16))

    def batches():
        return iter([{"input_ids": ids} for ids in data])

    config = TrainConfig(steps=12, lr=1e-2, log_every=1, checkpoint_every=5)
    straight = copy.deepcopy(toy[0])
    expected_history = train(straight, causal_lm_step, batches(), config)

    def crash_after_7(step, record):
        if step == 7:
            raise Crash

    resumed = copy.deepcopy(toy[0])
    with pytest.raises(Crash):
        train(
            resumed,
            causal_lm_step,
            batches(),
            config,
            options=RunOptions(checkpoint_dir=tmp_path, on_log=crash_after_7),
        )
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-5"]
    resumed = copy.deepcopy(toy[0])  # a fresh process starts from the initial weights again
    history = train(resumed, causal_lm_step, batches(), config, options=RunOptions(checkpoint_dir=tmp_path))
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    assert [h["step"] for h in history] == list(range(1, 13))
    assert history[-1]["loss"] == pytest.approx(expected_history[-1]["loss"], abs=1e-5)


def test_tensorboard_logging_writes_events_or_says_what_to_install(toy, tmp_path):
    from alignlab.errors import AlignlabError

    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(AlignlabError, match="pip install tensorboard"):
            train(
                copy.deepcopy(toy[0]),
                causal_lm_step,
                _batches(torch.randint(7, 71, (2, 8)), 2),
                TrainConfig(steps=2),
                options=RunOptions(tensorboard_dir=tmp_path),
            )
        return
    train(
        copy.deepcopy(toy[0]),
        causal_lm_step,
        _batches(torch.randint(7, 71, (2, 8)), 2),
        TrainConfig(steps=2, log_every=1),
        options=RunOptions(tensorboard_dir=tmp_path),
    )
    assert list(tmp_path.glob("events.out.tfevents.*"))


KILLED_RUN = """
import os, signal, sys, torch
from pathlib import Path
from alignlab.models import TOY_MODELS, build_toy_model, toy_tokenizer
from alignlab.training import RunOptions, TrainConfig, causal_lm_step, train
torch.manual_seed(0)
data = torch.randint(7, 71, (12, 4, 16))
model = build_toy_model(TOY_MODELS["toy-llama-tiny"], toy_tokenizer(), seed=0)
def kill_after_7(step, record):
    if step == 7:
        os.kill(os.getpid(), signal.SIGKILL)
train(model, causal_lm_step, iter([{"input_ids": ids} for ids in data]), TrainConfig(steps=12, lr=1e-2, log_every=1, checkpoint_every=5),
      RunOptions(checkpoint_dir=Path(sys.argv[1]), on_log=kill_after_7))
"""


@pytest.mark.slow
def test_a_sigkilled_process_resumes_to_the_same_weights(tmp_path):
    import signal
    import subprocess
    import sys

    from alignlab.models import TOY_MODELS, build_toy_model, toy_tokenizer

    result = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path)], capture_output=True, timeout=300
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-5"]

    torch.manual_seed(0)
    data = torch.randint(7, 71, (12, 4, 16))
    config = TrainConfig(steps=12, lr=1e-2, log_every=1, checkpoint_every=5)
    straight = build_toy_model(TOY_MODELS["toy-llama-tiny"], toy_tokenizer(), seed=0)
    train(straight, causal_lm_step, iter([{"input_ids": ids} for ids in data]), config)
    resumed = build_toy_model(TOY_MODELS["toy-llama-tiny"], toy_tokenizer(), seed=0)
    train(
        resumed,
        causal_lm_step,
        iter([{"input_ids": ids} for ids in data]),
        config,
        RunOptions(checkpoint_dir=tmp_path),
    )
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_hooks_run_around_the_step_and_early_stopping_restores_the_best_weights():
    from alignlab.training import EarlyStopping, LoopHooks

    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(64, 3), torch.randn(64, 1)

    def step(m, batch, progress):
        return LossOutput(((m(batch["x"]) - batch["y"]) ** 2).mean())

    seen = []

    def after_backward(m):  # gradients exist here, before clipping and the optimizer step
        seen.append(m.weight.grad is not None)

    scripted = iter([3.0, 2.0, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9])  # best at the third evaluation (step 6)
    weights = {}

    def objective(m):
        weights[len(weights) * 2 + 2] = m.weight.detach().clone()
        return next(scripted)

    stopper = EarlyStopping(objective, every=2, patience=4)
    history = train(
        model, step, iter([{"x": x, "y": y}] * 100), TrainConfig(steps=100, lr=0.1, log_every=100),
        hooks=LoopHooks(after_backward=after_backward, after_step=stopper),
    )  # fmt: skip
    assert history[-1]["step"] == 10 and len(seen) == 10 and all(seen)  # stopped 4 steps after the best
    assert stopper.best_step == 6 and [s for s, _ in stopper.curve] == [2, 4, 6, 8, 10]
    assert not torch.equal(model.weight, weights[6])
    assert torch.equal(stopper.restore(model).weight, weights[6])


def test_a_diverging_loss_stops_the_run_with_a_clear_error():
    from alignlab.errors import AlignlabError

    model = torch.nn.Linear(2, 1)

    def step(m, batch, progress):
        return LossOutput(m(batch).sum() * float("nan") if progress.step == 2 else m(batch).sum())

    with pytest.raises(AlignlabError, match="diverged: the loss is nan at step 3"):
        train(model, step, iter([torch.ones(1, 2)] * 5), TrainConfig(steps=5))
