"""Turning prompts and completions into padded token batches — the one place where chat templates and
padding are handled, so scoring, generation and training all see the same tokens.

A prompt is either plain text or a list of chat messages (``{"role": ..., "content": ...}``). With a chat
template (``chat=None`` means "when the tokenizer has one"), a plain-text prompt is one user turn and the
template's generation prompt is appended; without one, text is used as it is.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from transformers import PreTrainedTokenizerBase

from ..errors import AlignlabError

Message = dict[str, str]
Prompt = str | list[Message]


def uses_chat_template(tokenizer: PreTrainedTokenizerBase, chat: bool | None) -> bool:
    has_template = getattr(tokenizer, "chat_template", None) is not None
    if chat and not has_template:
        raise AlignlabError("chat formatting was asked for but this tokenizer has no chat template")
    return has_template if chat is None else chat


def format_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Prompt, *, chat: bool | None = None) -> str:
    """The exact text the model sees before its answer."""
    if not uses_chat_template(tokenizer, chat):
        if not isinstance(prompt, str):
            raise AlignlabError(
                "chat messages need a tokenizer with a chat template; pass plain text instead"
            )
        return prompt
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt], *, chat: bool | None = None
) -> list[list[int]]:
    """Token ids of each formatted prompt. A chat template writes its own special tokens, so the tokenizer
    adds none then; plain text gets the tokenizer's usual ones (e.g. BOS)."""
    templated = uses_chat_template(tokenizer, chat)
    texts = [format_prompt(tokenizer, p, chat=templated) for p in prompts]
    return tokenizer(texts, add_special_tokens=not templated)["input_ids"]


def encode_completions(tokenizer: PreTrainedTokenizerBase, completions: Sequence[str]) -> list[list[int]]:
    """Completions are tokenized on their own (as TRL does), so prompt tokens never merge into them."""
    return tokenizer(list(completions), add_special_tokens=False)["input_ids"]


def pad(
    sequences: Sequence[Sequence[int]], pad_id: int, side: Literal["left", "right"]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (B, T_max). Left padding for generation (every row ends at the
    same position, where new tokens go); right padding for scoring and training."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        span = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


@dataclass
class PromptCompletionBatch:
    """Prompt followed by completion, right-padded. ``completion_mask`` marks completion tokens."""

    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    completion_mask: torch.Tensor  # (B, T)

    def to(self, device: torch.device | str) -> "PromptCompletionBatch":
        return PromptCompletionBatch(
            *(t.to(device) for t in (self.input_ids, self.attention_mask, self.completion_mask))
        )


def check_length(lengths: Sequence[int], limit: int | None, what: str = "prompt + completion") -> None:
    if limit is None:
        return
    for row, n in enumerate(lengths):
        if n > limit:
            raise AlignlabError(f"row {row}: {what} is {n} tokens, longer than the model's limit of {limit}")


def collate_prompt_completion(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    *,
    chat: bool | None = None,
    max_length: int | None = None,
) -> PromptCompletionBatch:
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    prompt_ids = encode_prompts(tokenizer, prompts, chat=chat)
    completion_ids = encode_completions(tokenizer, completions)
    sequences = [p + c for p, c in zip(prompt_ids, completion_ids, strict=True)]
    check_length([len(s) for s in sequences], max_length)
    input_ids, attention_mask = pad(sequences, tokenizer.pad_token_id, "right")
    completion_mask = torch.zeros_like(attention_mask)
    for row, (p, c) in enumerate(zip(prompt_ids, completion_ids, strict=True)):
        completion_mask[row, len(p) : len(p) + len(c)] = 1
    return PromptCompletionBatch(input_ids, attention_mask, completion_mask)


def model_max_length(model) -> int | None:
    return getattr(model.config, "max_position_embeddings", None)
