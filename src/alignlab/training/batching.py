"""Tokenised, padded batches for the trainers, built once and replayed in a seeded order every epoch."""

import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from ..data.formats import CompletionExample, PreferenceExample
from ..scoring.encode import collate_prompt_completion
from ..scoring.logprobs import completion_token_logprobs


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def epochs(batches: Sequence[Any], *, seed: int) -> Iterator[Any]:
    """Cycle through ``batches`` forever, in a new seeded order each epoch (deterministic, so resumable)."""
    rng = random.Random(seed)
    while True:
        order = list(range(len(batches)))
        rng.shuffle(order)
        yield from (batches[i] for i in order)


def completion_batch(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[CompletionExample], chat: bool | None = None
) -> dict[str, torch.Tensor]:
    batch = collate_prompt_completion(
        tokenizer, [e.prompt for e in examples], [e.completion for e in examples], chat=chat
    )
    out = {
        "input_ids": batch.input_ids,
        "attention_mask": batch.attention_mask,
        "completion_mask": batch.completion_mask,
    }
    if examples and examples[0].label is not None:
        out["label"] = torch.tensor([bool(e.label) for e in examples])
    return out


def preference_batch(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[PreferenceExample], chat: bool | None = None
) -> dict[str, torch.Tensor]:
    """One padded batch of 2B rows: the B chosen completions, then the B rejected ones."""
    prompts = [e.prompt for e in examples]
    batch = collate_prompt_completion(
        tokenizer, prompts * 2, [e.chosen for e in examples] + [e.rejected for e in examples], chat=chat
    )
    return {
        "input_ids": batch.input_ids,
        "attention_mask": batch.attention_mask,
        "completion_mask": batch.completion_mask,
    }


def sequence_logps(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed completion log-probabilities, one per row: (B,)."""
    return completion_token_logprobs(
        model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    ).sum(-1)
