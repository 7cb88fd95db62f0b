"""The one training loop every algorithm shares.

An algorithm is a *step function* ``step(model, batch, progress) -> LossOutput``: it computes a loss from a
batch and never touches the optimizer. It receives the model as the loop prepared it (wrapped for
distributed training or mixed precision), so it must call that one, not a copy it closed over. The loop owns the rest — device placement and mixed precision (through
``accelerate``), gradient accumulation, clipping, the learning-rate schedule and logging.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
from transformers import get_scheduler

from ..losses.base import LossOutput


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    """Optimizer steps."""
    lr: float = 3e-4
    """Peak learning rate."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to ``lr``."""
    schedule: Literal["constant", "linear", "cosine"] = "cosine"
    """Decay after warm-up."""
    weight_decay: float = 0.0
    optimizer: Literal["adamw", "sgd"] = "adamw"
    grad_clip: float | None = 1.0
    """Clip the global gradient norm to this (None: no clipping)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step; each micro-batch's loss is divided by this."""
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.steps < 1 or self.grad_accum < 1 or self.log_every < 1:
            raise ValueError("steps, grad_accum and log_every must be at least 1")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError("warmup_steps must be between 0 and steps")


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


def train(
    model: torch.nn.Module,
    step_fn: StepFn,
    batches: Iterator[Any],
    config: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place on ``config.steps * config.grad_accum`` batches from ``batches``.

    Returns the logged metrics: every ``log_every`` steps (and the last), the mean of each metric over the
    micro-batches since the last log, plus ``loss``, ``lr`` and ``grad_norm``.
    """
    device = torch.device(device)
    accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=config.mixed_precision)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer_cls = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[config.optimizer]
    optimizer = optimizer_cls(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_scheduler(config.schedule, optimizer, config.warmup_steps, config.steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()

    history: list[dict[str, float]] = []
    window: dict[str, list[float]] = {}
    for step in range(config.steps):
        progress = Progress(step, config.steps)
        for _ in range(config.grad_accum):
            out = step_fn(model, send_to_device(next(batches), accelerator.device), progress)
            accelerator.backward(out.loss / config.grad_accum)
            for key, value in {"loss": out.loss.item(), **out.metrics}.items():
                window.setdefault(key, []).append(float(value))
        grad_norm = accelerator.clip_grad_norm_(parameters, config.grad_clip or float("inf"))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.setdefault("grad_norm", []).append(float(grad_norm))
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            record = {key: sum(values) / len(values) for key, values in window.items()}
            record["lr"] = scheduler.get_last_lr()[0]
            history.append({"step": step + 1, **record})
            if on_log:
                on_log(step + 1, record)
            window = {}
    model.eval()
    return history


def causal_lm_step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
    """Next-token prediction on full sequences: a batch is ``{"input_ids": (B, T)}`` with no padding."""
    return LossOutput(model(input_ids=batch["input_ids"], labels=batch["input_ids"]).loss)
