"""Supervised fine-tuning on prompt/completion pairs, with the loss on completion tokens only."""

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..data.formats import CompletionExample
from ..losses import LossOutput, masked_nll
from ..scoring.logprobs import completion_token_logprobs
from .batching import chunks, completion_batch, epochs
from .loop import LoopHooks, Progress, RunOptions, TrainConfig, train


def sft_step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
    logps = completion_token_logprobs(
        model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    )
    return masked_nll(logps, batch["completion_mask"][:, 1:])


def train_sft(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[CompletionExample],
    config: TrainConfig,
    *,
    batch_size: int = 8,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
    hooks: LoopHooks = LoopHooks(),
) -> list[dict[str, float]]:
    batches = [completion_batch(tokenizer, chunk, chat) for chunk in chunks(list(examples), batch_size)]
    return train(model, sft_step, epochs(batches, seed=options.seed), config, options, hooks=hooks)
