"""Reward models: a causal LM's trunk with a scalar head, trained on preference pairs (Bradley-Terry).

The reward of a sequence is the head's output at its last non-padding token (transformers'
``*ForSequenceClassification`` convention, so any HF reward model loads and scores the same way).
"""

from collections.abc import Callable, Sequence

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from ..data.formats import PreferenceExample
from ..losses import LossOutput, bradley_terry
from ..scoring.encode import Prompt, collate_prompt_completion
from .batching import chunks, epochs, preference_batch
from .loop import Progress, RunOptions, StepFn, TrainConfig, train


def head_model_from(causal_lm: PreTrainedModel, auto_class: type, num_labels: int) -> PreTrainedModel:
    """An ``auto_class`` model (e.g. ``AutoModelForSequenceClassification``) with a fresh ``num_labels`` head
    and a trunk that starts as a copy of ``causal_lm``'s."""
    config = causal_lm.config.__class__.from_dict(causal_lm.config.to_dict())
    config.num_labels = num_labels
    model = auto_class.from_config(config, dtype=causal_lm.dtype)
    trunk = causal_lm.get_decoder() if hasattr(causal_lm, "get_decoder") else causal_lm.model
    model.base_model.load_state_dict(trunk.state_dict())
    return model.to(causal_lm.device)


def reward_model_from(causal_lm: PreTrainedModel) -> PreTrainedModel:
    """A sequence-classification model (one output) whose trunk starts as a copy of ``causal_lm``'s."""
    return head_model_from(causal_lm, AutoModelForSequenceClassification, num_labels=1)


def rewards(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One scalar per sequence, (B,), from a reward model (a sequence classifier with one output)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    if logits.dim() != 2 or logits.shape[-1] != 1:
        raise ValueError(
            f"a reward model scores each sequence with one number, (B, 1), but this model returns logits of shape "
            f"{tuple(logits.shape)} (a causal LM returns (B, T, vocab)); make one with reward_model_from(model)"
        )
    return logits.squeeze(-1)  # (B,)


def reward_step(*, margin: float = 0.0, center_coef: float = 0.0) -> StepFn:
    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
        chosen, rejected = rewards(model, batch).chunk(2)
        margins = torch.full_like(chosen, margin) if margin else None
        return bradley_terry(chosen, rejected, margin=margins, center_coef=center_coef)

    return step


def train_reward_model(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[PreferenceExample],
    config: TrainConfig,
    *,
    batch_size: int = 8,
    center_coef: float = 0.0,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    batches = [preference_batch(tokenizer, chunk, chat) for chunk in chunks(list(examples), batch_size)]
    step = reward_step(center_coef=center_coef)
    return train(model, step, epochs(batches, seed=options.seed), config, options)


@torch.no_grad()
def score_with_reward_model(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    *,
    batch_size: int = 32,
    chat: bool | None = None,
) -> list[float]:
    device = next(model.parameters()).device
    out: list[float] = []
    for start in range(0, len(prompts), batch_size):
        batch = collate_prompt_completion(
            tokenizer, prompts[start : start + batch_size], completions[start : start + batch_size], chat=chat
        ).to(device)
        out += rewards(model, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}).tolist()
    return out


def reward_model_fn(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    *,
    chat: bool | None = None,
    batch_size: int = 64,
) -> Callable[[Sequence[Prompt], Sequence[str]], list[float]]:
    """A trained reward model as a TRL-style reward function, for PPO, GRPO or best-of-n."""
    model.eval()

    def reward(prompts: Sequence[Prompt], completions: Sequence[str]) -> list[float]:
        return score_with_reward_model(
            model, tokenizer, prompts, completions, batch_size=batch_size, chat=chat
        )

    return reward
