"""Next-token pre-training of a toy model on plain texts (a task's language) before alignment."""

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..scoring.encode import pad
from .batching import chunks, epochs
from .loop import RunOptions, TrainConfig, causal_lm_step, train


def pretrain(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    config: TrainConfig,
    *,
    batch_size: int = 32,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    """Texts of equal token length train with no padding; unequal ones are right-padded and masked."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    batches = []
    for chunk in chunks(ids, batch_size):
        input_ids, attention_mask = pad(chunk, tokenizer.pad_token_id, "right")
        batches.append({"input_ids": input_ids, "attention_mask": attention_mask})

    def step(model, batch, progress):
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        return causal_lm_step(
            model,
            {"input_ids": batch["input_ids"], "labels": labels, "attention_mask": batch["attention_mask"]},
            progress,
        )

    return train(model, step, epochs(batches, seed=options.seed), config, options)
