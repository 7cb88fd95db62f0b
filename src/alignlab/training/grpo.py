"""GRPO (Shao et al. 2024): sample a group of completions per prompt, score them with reward functions or a
reward model, and push up those that beat their group's mean — no value network.

Each optimizer step is one rollout and one update on it (TRL's default ``num_iterations=1``), so the
importance ratio is 1 at the update and the clip is inactive; the KL to the reference is in the loss.
"""

from collections.abc import Sequence
from typing import Annotated, Literal

import torch
from pydantic import Field
from transformers import PreTrainedTokenizerBase

from ..config import MAX_COUNT, Count, FrozenConfig, NonNegativeFloat, OpenProbability, PositiveFloat
from ..losses import LossOutput, group_advantages, grpo_loss
from ..scoring.encode import Prompt
from ..scoring.logprobs import completion_token_logprobs
from .batching import chunks, epochs
from .loop import LoopHooks, Progress, RunOptions, StepFn, TrainConfig, train
from .reference import Reference
from .rollout import RewardFn, RolloutFn, sample_rollout, total_reward


class GRPOConfig(FrozenConfig):
    group_size: Annotated[int, Field(ge=2, le=MAX_COUNT)] = 8
    """Completions sampled per prompt: at least two, since each is compared with its group's others."""
    prompts_per_step: Count = 8
    max_new_tokens: Count = 16
    temperature: PositiveFloat = 1.0
    beta: NonNegativeFloat = 0.04
    """KL coefficient (k3 estimator, in the loss). 0 disables the KL term and the reference."""
    clip: OpenProbability = 0.2
    normalization: Literal["sequence", "token", "dr_grpo"] = "sequence"
    scale_rewards: bool = True
    """Divide advantages by the group's std (DeepSeekMath); False for Dr. GRPO."""


def grpo_step(
    tokenizer: PreTrainedTokenizerBase,
    reward_fns: Sequence[RewardFn],
    reference: Reference | None,
    config: GRPOConfig,
    chat: bool | None = None,
    rollout_fn: RolloutFn = sample_rollout,
) -> StepFn:
    def step(model: torch.nn.Module, prompts: list[Prompt], progress: Progress) -> LossOutput:
        rollout = rollout_fn(
            model,
            tokenizer,
            prompts,
            samples_per_prompt=config.group_size,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            chat=chat,
        )
        rewards = total_reward(reward_fns, rollout)
        advantages = group_advantages(rewards, config.group_size, scale=config.scale_rewards)
        device = next(model.parameters()).device
        ids, attn, comp = (
            t.to(device) for t in (rollout.input_ids, rollout.attention_mask, rollout.completion_mask)
        )
        logps = completion_token_logprobs(model, ids, attn, comp)  # (N, T-1)
        ref_logps = None
        if reference is not None and config.beta:
            ref_logps = reference(lambda m: completion_token_logprobs(m, ids, attn, comp), model)
        mask = comp[:, 1:]
        out = grpo_loss(
            logps, logps.detach(), ref_logps, advantages.to(device), mask,
            clip=config.clip, beta=config.beta, normalization=config.normalization,
            max_completion_length=config.max_new_tokens,
        )  # fmt: skip
        out.metrics.update(
            reward=rewards.mean().item(),
            reward_std=rewards.view(-1, config.group_size).std(dim=1).mean().item(),
            completion_length=mask.sum(-1).float().mean().item(),
        )
        return out

    return step


def train_grpo(
    policy: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    reward_fns: Sequence[RewardFn],
    grpo: GRPOConfig,
    config: TrainConfig,
    *,
    reference: torch.nn.Module | None = None,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
    rollout_fn: RolloutFn = sample_rollout,
    hooks: LoopHooks = LoopHooks(),
) -> list[dict[str, float]]:
    ref = Reference(policy, reference) if grpo.beta else None
    batches = [list(chunk) for chunk in chunks(list(prompts), grpo.prompts_per_step)]
    step = grpo_step(tokenizer, reward_fns, ref, grpo, chat, rollout_fn)
    return train(policy, step, epochs(batches, seed=options.seed), config, options, hooks=hooks)
