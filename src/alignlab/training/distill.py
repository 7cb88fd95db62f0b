"""Sequence-level distillation: a student matches a teacher's next-token distributions on completions."""

from collections.abc import Sequence
from typing import Literal

import torch
from transformers import PreTrainedTokenizerBase

from ..data.formats import CompletionExample
from ..losses import LossOutput, token_kl
from .batching import chunks, completion_batch, epochs
from .loop import Progress, RunOptions, StepFn, TrainConfig, train


def distill_step(
    teacher: torch.nn.Module,
    *,
    direction: Literal["forward", "reverse"] = "forward",
    temperature: float = 1.0,
) -> StepFn:
    """Teacher and student must share a tokenizer (vocabulary)."""

    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        with torch.no_grad():
            teacher_logits = teacher.to(batch["input_ids"].device)(**inputs).logits[:, :-1]
        student_logits = model(**inputs).logits[:, :-1]  # (B, T-1, V): position t predicts token t+1
        return token_kl(
            student_logits,
            teacher_logits,
            batch["completion_mask"][:, 1:],
            direction=direction,
            temperature=temperature,
        )

    return step


def train_distill(
    student: torch.nn.Module,
    teacher: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[CompletionExample],
    config: TrainConfig,
    *,
    direction: Literal["forward", "reverse"] = "forward",
    temperature: float = 1.0,
    batch_size: int = 8,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    teacher.eval()  # run under no_grad in the step; its parameters are left as they are
    batches = [completion_batch(tokenizer, chunk, chat) for chunk in chunks(list(examples), batch_size)]
    step = distill_step(teacher, direction=direction, temperature=temperature)
    return train(student, step, epochs(batches, seed=options.seed), config, options)
