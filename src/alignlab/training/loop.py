"""The one training loop every algorithm shares.

An algorithm is a *step function* ``step(model, batch, progress) -> LossOutput``: it computes a loss from a
batch and never touches the optimizer. It receives the model as the loop prepared it (wrapped for
distributed training or mixed precision), so it must call that one, not a copy it closed over. The loop
owns the rest — device placement and mixed precision (through ``accelerate``), gradient accumulation,
clipping, the learning-rate schedule, checkpoints and logging. What an algorithm must do around the
optimizer step (an SAE's gradient projection and decoder renormalisation, early stopping) goes in
``LoopHooks``.

Data parallel: launched as several processes (``torchrun --nproc_per_node N`` or ``accelerate launch`` with one
of the configs in ``configs/accelerate/``), every process runs the same loop over the same ``batches``; each
takes its own equal slice of every batch (``shard_batch``), gradients are averaged across processes, and the
logged figures are averaged too. With a loss that is a mean over equally weighted rows, N processes then reach
the weights one process reaches on the same global batches (tested with two CPU processes over gloo).
"""

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, send_to_device
from pydantic import model_validator
from transformers import get_scheduler

from ..config import Count, FrozenConfig, LearningRate, NonNegativeCount, NonNegativeFloat, PositiveFloat
from ..errors import AlignlabError
from ..losses.base import LossOutput


class TrainConfig(FrozenConfig):
    """How the loop optimises: a validated, immutable config (a bad value is an error that names the field)."""

    steps: Count
    """Optimizer steps."""
    lr: LearningRate = 3e-4
    """Peak learning rate."""
    warmup_steps: NonNegativeCount = 0
    """Linear warm-up from 0 to ``lr``."""
    schedule: Literal["constant", "linear", "cosine", "warmup_stable_decay"] = "cosine"
    """Decay after warm-up; ``warmup_stable_decay`` holds the peak, then decays linearly to 0 over the last
    ``decay_steps``."""
    decay_steps: NonNegativeCount = 0
    """For ``warmup_stable_decay`` only."""
    weight_decay: NonNegativeFloat = 0.0
    optimizer: Literal["adamw", "sgd"] = "adamw"
    grad_clip: PositiveFloat | None = 1.0
    """Clip the global gradient norm to this (None: no clipping)."""
    grad_accum: Count = 1
    """Micro-batches per optimizer step; each micro-batch's loss is divided by this."""
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    log_every: Count = 10
    checkpoint_every: Count = 100
    """Steps between checkpoints, when the loop is given a checkpoint folder."""

    @model_validator(mode="after")
    def _warmup_fits(self) -> "TrainConfig":
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be between 0 and steps ({self.steps})")
        if self.warmup_steps + self.decay_steps > self.steps:
            raise ValueError(
                f"warmup_steps + decay_steps ({self.warmup_steps + self.decay_steps}) exceed steps ({self.steps})"
            )
        return self


@dataclass(frozen=True)
class Progress:
    step: int
    """Optimizer steps done so far."""
    total: int

    @property
    def fraction(self) -> float:
        """In [0, 1): for schedules that live in the loss (e.g. a ramped coefficient)."""
        return self.step / self.total


StepFn = Callable[[torch.nn.Module, Any, Progress], LossOutput]


@dataclass(frozen=True)
class LoopHooks:
    """Extension points around the optimizer step, for what an algorithm must do there."""

    after_backward: Callable[[torch.nn.Module], None] | None = None
    """Called once the step's gradients are accumulated, before clipping (e.g. remove a gradient component)."""
    after_step: Callable[[int, torch.nn.Module], bool | None] | None = None
    """Called with (optimizer steps done, model) after each optimizer step (e.g. renormalise weights);
    returning True stops training early."""


@dataclass(frozen=True)
class RunOptions:
    """Where and how a training run executes, apart from what it optimises (``TrainConfig``)."""

    device: torch.device | str = "cpu"
    seed: int = 0
    """Seeds the order in which trainers replay their batches each epoch."""
    on_log: Callable[[int, dict[str, float]], None] | None = None
    """Called with (step, record) every ``log_every`` steps."""
    checkpoint_dir: Path | None = None
    """Checkpoint every ``checkpoint_every`` steps, and resume from the newest checkpoint found here."""
    tensorboard_dir: Path | None = None
    """Also write every logged record as TensorBoard scalars (needs the ``tensorboard`` package)."""
    progress: str | None = None
    """A label: show a progress bar with it while training, when standard error is a terminal."""


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder (complete ones are renamed into place)."""
    found = sorted(checkpoint_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def _save_checkpoint(
    accelerator: Accelerator, checkpoint_dir: Path, step: int, state: dict[str, Any]
) -> None:
    """Model, optimizer, scheduler, RNG states and the loop's own state, written to a temporary folder and
    renamed into place; older checkpoints are then removed. Every process takes part (each saves its own RNG
    state); the main process alone touches the folders."""
    tmp = checkpoint_dir / f".tmp-checkpoint-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "loop_state.json").write_text(json.dumps(state))
        tmp.rename(checkpoint_dir / f"checkpoint-{step}")
        for old in checkpoint_dir.glob("checkpoint-*"):
            if old.name != f"checkpoint-{step}":
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def shard_batch(batch: Any, index: int, count: int) -> Any:
    """Process ``index`` of ``count``'s equal slice of a batch: every tensor (and list) split along its first
    dimension, recursively through dicts, tuples and dataclass-free containers."""
    if isinstance(batch, dict):
        return {key: shard_batch(value, index, count) for key, value in batch.items()}
    if isinstance(batch, tuple):
        return tuple(shard_batch(value, index, count) for value in batch)
    if isinstance(batch, torch.Tensor | list):
        if len(batch) % count:
            raise AlignlabError(
                f"data-parallel training over {count} processes needs batches whose size divides by {count}; "
                f"got {len(batch)} rows"
            )
        size = len(batch) // count
        return batch[index * size : (index + 1) * size]
    return batch


def train(
    model: torch.nn.Module,
    step_fn: StepFn,
    batches: Iterator[Any],
    config: TrainConfig,
    options: RunOptions = RunOptions(),
    *,
    stateful: Sequence[Any] = (),
    hooks: LoopHooks = LoopHooks(),
) -> list[dict[str, float]]:
    """Train ``model`` in place on ``config.steps * config.grad_accum`` batches from ``batches``.

    Returns the logged metrics: every ``log_every`` steps (and the last), the mean of each metric over the
    micro-batches since the last log, plus ``loss``, ``lr`` and ``grad_norm``.

    With ``options.checkpoint_dir``, a checkpoint is written every ``config.checkpoint_every`` steps, and a run that
    finds one there resumes from it: the state is restored and the batches already consumed are skipped,
    so a deterministic ``batches`` iterator reaches the same final weights as an uninterrupted run.
    ``stateful`` objects (with ``state_dict``/``load_state_dict``, e.g. a KL controller) are saved too.

    A loss that is NaN or infinite stops the run with an ``AlignlabError`` naming the step: it never trains
    on. Metrics may be floats or 0-d tensors; tensors are read only when a record is logged.
    """
    device = torch.device(options.device)
    on_log, checkpoint_dir = options.on_log, options.checkpoint_dir
    accelerator = Accelerator(  # split_batches: a step consumes one global batch, so the schedule steps once
        cpu=device.type == "cpu",
        mixed_precision=config.mixed_precision,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer_cls = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[config.optimizer]
    optimizer = optimizer_cls(parameters, lr=config.lr, weight_decay=config.weight_decay)
    extra = (
        {"num_decay_steps": config.decay_steps, "decay_type": "linear"}
        if config.schedule == "warmup_stable_decay"
        else None
    )
    scheduler = get_scheduler(
        config.schedule, optimizer, config.warmup_steps, config.steps, scheduler_specific_kwargs=extra
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    parameters = [p for p in model.parameters() if p.requires_grad]  # as prepared (FSDP replaces them)
    processes, rank = accelerator.num_processes, accelerator.process_index
    for obj in stateful:
        accelerator.register_for_checkpointing(obj)

    history: list[dict[str, float]] = []
    window: dict[str, list[float]] = {}
    start = 0
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        if (checkpoint := latest_checkpoint(checkpoint_dir)) is not None:
            accelerator.load_state(str(checkpoint))
            state = json.loads((checkpoint / "loop_state.json").read_text())
            start, history, window = state["step"], state["history"], state["window"]
            for _ in range(start * config.grad_accum):
                next(batches)
    main = accelerator.is_main_process
    writer = _tensorboard(options.tensorboard_dir) if main else None
    bar = _progress_bar(options.progress, config.steps, start) if main else None
    model.train()

    for step in range(start, config.steps):
        progress = Progress(step, config.steps)
        for _ in range(config.grad_accum):
            batch = next(batches)
            if processes > 1:
                batch = shard_batch(batch, rank, processes)
            out = step_fn(model, send_to_device(batch, accelerator.device), progress)
            loss = out.loss.detach()
            if not torch.isfinite(loss):
                raise AlignlabError(
                    f"training diverged: the loss is {loss.item()} at step {step + 1}; lower the learning rate "
                    "or check the data"
                )
            accelerator.backward(out.loss / config.grad_accum)
            for key, value in {"loss": loss, **out.metrics}.items():
                window.setdefault(key, []).append(value)
        if hooks.after_backward is not None:
            hooks.after_backward(model)
        grad_norm = accelerator.clip_grad_norm_(parameters, config.grad_clip or float("inf"))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.setdefault("grad_norm", []).append(grad_norm)
        stop = bool(hooks.after_step(step + 1, model)) if hooks.after_step is not None else False
        if bar is not None:
            bar.update(1)
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps or stop:
            record = {key: sum(float(v) for v in values) / len(values) for key, values in window.items()}
            if processes > 1:  # the mean over processes (each saw an equal slice)
                means = accelerator.reduce(
                    torch.tensor(list(record.values()), device=accelerator.device), "mean"
                )
                record = dict(zip(record, means.tolist(), strict=True))
            record["lr"] = scheduler.get_last_lr()[0]
            history.append({"step": step + 1, **record})
            if on_log and main:
                on_log(step + 1, record)
            if writer is not None:
                for key, value in record.items():
                    writer.add_scalar(key, value, step + 1)
            window = {}
        if (
            checkpoint_dir is not None
            and (step + 1) % config.checkpoint_every == 0
            and step + 1 < config.steps
        ):
            _save_checkpoint(
                accelerator,
                checkpoint_dir,
                step + 1,
                {"step": step + 1, "history": history, "window": _plain(window)},
            )
        if stop:
            break
    if writer is not None:
        writer.close()
    if bar is not None:
        bar.close()
    model.eval()
    return history


def _plain(window: dict[str, list]) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in window.items()}


def _progress_bar(label: str | None, total: int, done: int):
    """A tqdm-style bar on standard error when it is a terminal and a label was given, else None."""
    import sys

    if not label or not sys.stderr.isatty():
        return None
    from rich.progress import Progress as RichProgress

    class Bar:
        def __init__(self) -> None:
            self.rich = RichProgress(transient=True)
            self.task = self.rich.add_task(label, total=total, completed=done)
            self.rich.start()

        def update(self, n: int) -> None:
            self.rich.advance(self.task, n)

        def close(self) -> None:
            self.rich.stop()

    return Bar()


def _tensorboard(log_dir: Path | None):
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise AlignlabError(
            "TensorBoard logging needs the tensorboard package: pip install tensorboard"
        ) from None
    return SummaryWriter(str(log_dir))


def causal_lm_step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
    """Next-token prediction: a batch is ``{"input_ids": (B, T)}``, optionally with ``attention_mask`` and
    ``labels`` (-100 where no loss is wanted); without labels every token is a target."""
    labels = batch.get("labels", batch["input_ids"])
    return LossOutput(
        model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), labels=labels).loss
    )
