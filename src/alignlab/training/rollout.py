"""Rollouts: sampling completions from the policy being trained, as token tensors ready for scoring."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from ..scoring.encode import Prompt, encode_prompts, pad

RewardFn = Callable[[Sequence[Prompt], Sequence[str]], Sequence[float]]
"""A plain reward function, as TRL's: (prompts, completions) -> one float per completion."""

RolloutFn = Callable[..., "Rollout"]
"""What samples a trainer's rollouts: ``sample_rollout`` (the policy's own ``generate``), or ``RemoteRollouts``
(an inference server holding a copy of the policy); called as ``sample_rollout`` is."""


@dataclass
class Rollout:
    prompts: list[Prompt]  # (N,), each prompt repeated once per sample
    completions: list[str]  # (N,)
    input_ids: torch.Tensor  # (N, P + T): left-padded prompt, then the completion, then padding
    attention_mask: torch.Tensor  # (N, P + T)
    completion_mask: torch.Tensor  # (N, P + T): completion tokens, up to and including end-of-sequence


@torch.no_grad()
def sample_rollout(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    *,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    chat: bool | None = None,
) -> Rollout:
    was_training = model.training
    model.eval()
    input_ids, attention_mask = pad(
        encode_prompts(tokenizer, prompts, chat=chat), tokenizer.pad_token_id, "left"
    )
    device = next(model.parameters()).device
    sequences = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        do_sample=True,
        temperature=temperature,
        top_p=1.0,
        top_k=0,
        max_new_tokens=max_new_tokens,
        num_return_sequences=samples_per_prompt,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    ).cpu()
    model.train(was_training)
    prompt_width = input_ids.shape[1]
    new = sequences[:, prompt_width:]  # (N, T)
    is_eos = new == tokenizer.eos_token_id
    after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0  # strictly after the first eos
    new_mask = (~after_eos).long()
    prompt_mask = attention_mask.repeat_interleave(samples_per_prompt, dim=0)
    completion_mask = torch.cat([torch.zeros_like(prompt_mask), new_mask], dim=1)
    # Reward functions must see exactly what was generated: special tokens other than the final
    # end-of-sequence stay in the text (hiding them lets a policy hack a reward with invisible tokens).
    keep = new_mask.bool() & new.ne(tokenizer.eos_token_id)
    texts = [tokenizer.decode(row[k]) for row, k in zip(new, keep, strict=True)]
    return Rollout(
        prompts=[p for p in prompts for _ in range(samples_per_prompt)],
        completions=texts,
        input_ids=sequences,
        attention_mask=torch.cat([prompt_mask, new_mask], dim=1),
        completion_mask=completion_mask,
    )


def total_reward(reward_fns: Sequence[RewardFn], rollout: Rollout) -> torch.Tensor:
    """The sum of every reward function's score, (N,)."""
    scores = torch.zeros(len(rollout.completions))
    for fn in reward_fns:
        values = [float(r) for r in fn(rollout.prompts, rollout.completions)]
        if len(values) != len(scores):
            name = getattr(fn, "__name__", type(fn).__name__)
            raise ValueError(
                f"reward function {name} returned {len(values)} scores for {len(scores)} completions; it must "
                "return one float per completion"
            )
        scores += torch.tensor(values)
    return scores
