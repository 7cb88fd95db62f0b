"""PPO-RLHF (Ziegler et al. 2019; Ouyang et al. 2022): a policy with a value head, a frozen reference, and a
reward model or reward function.

The rollout is a phase of the shared loop, not a second loop: every ``ppo_epochs`` optimizer steps the step
function samples a fresh rollout and scores it; in between it reuses that rollout, so the importance ratio
moves away from 1 and PPO's clipping does its work. The per-token reward is the KL penalty, plus the
sequence score on the last completion token:

    r_t = -beta * KL_t  (+ score at the final token),   advantages by GAE on the value head's estimates.
"""

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from ..config import Count, FrozenConfig, NonNegativeFloat, OpenProbability, PositiveFloat, Probability
from ..losses import (
    AdaptiveKLController,
    FixedKLController,
    LossOutput,
    gae,
    kl_penalty,
    masked_mean,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)
from ..scoring.encode import Prompt
from ..scoring.logprobs import completion_token_logprobs, token_logprobs
from .batching import chunks, epochs
from .loop import Progress, RunOptions, StepFn, TrainConfig, train
from .reference import Reference
from .rollout import RewardFn, RolloutFn, sample_rollout, total_reward


class PolicyWithValueHead(nn.Module):
    """A causal LM and a scalar value head on its last hidden state (shared trunk, as in Ziegler et al.)."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy
        self.value_head = nn.Linear(policy.config.hidden_size, 1, dtype=policy.dtype)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask, position_ids=None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.policy(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_hidden_states=True,
        )
        return out.logits, self.value_head(out.hidden_states[-1]).squeeze(-1)  # (B, T, V), (B, T)


class PPOConfig(FrozenConfig):
    prompts_per_step: Count = 16
    max_new_tokens: Count = 16
    temperature: PositiveFloat = 1.0
    ppo_epochs: Count = 2
    """Optimizer steps on each rollout."""
    clip: OpenProbability = 0.2
    value_clip: PositiveFloat = 0.2
    vf_coef: NonNegativeFloat = 0.1
    gamma: Probability = 1.0
    lam: Probability = 0.95
    kl_coef: NonNegativeFloat = 0.05
    """Initial (or fixed) KL coefficient beta."""
    kl_estimator: Literal["k1", "k3"] = "k1"
    kl_target: PositiveFloat | None = None
    """With a target, beta adapts (Ziegler et al.'s controller) to keep the sequence KL near it."""
    kl_horizon: Count = 10_000


def _values_and_logps(model: nn.Module, ids, attn, comp) -> tuple[torch.Tensor, torch.Tensor]:
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    logits, values = model(ids, attn, position_ids)
    mask = comp[:, 1:]
    return values[:, :-1] * mask, token_logprobs(logits, ids) * mask  # both (B, T-1): state before token t


def ppo_step(
    tokenizer: PreTrainedTokenizerBase,
    reward_fns: Sequence[RewardFn],
    reference: Reference,
    kl_controller: FixedKLController | AdaptiveKLController,
    config: PPOConfig,
    chat: bool | None = None,
    rollout_fn: RolloutFn = sample_rollout,
) -> StepFn:
    buffer: dict[str, torch.Tensor] = {}

    def refresh(model: nn.Module, prompts: list[Prompt]) -> None:
        rollout = rollout_fn(
            model.policy,
            tokenizer,
            prompts,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            chat=chat,
        )
        device = next(model.parameters()).device
        ids, attn, comp = (
            t.to(device) for t in (rollout.input_ids, rollout.attention_mask, rollout.completion_mask)
        )
        mask = comp[:, 1:].float()
        with torch.no_grad():
            values, logps = _values_and_logps(model, ids, attn, comp)
            ref_logps = reference(lambda m: completion_token_logprobs(m, ids, attn, comp), model.policy)
        scores = total_reward(reward_fns, rollout).to(device)
        kl = kl_penalty(logps, ref_logps, config.kl_estimator) * mask
        rewards = -kl_controller.value * kl
        last = (mask * torch.arange(mask.shape[1], device=device)).argmax(-1)
        rewards[torch.arange(len(last)), last] += scores
        advantages, returns = gae(rewards, values, mask, gamma=config.gamma, lam=config.lam)
        sequence_kl = kl.sum(-1).mean().item()
        kl_controller.update(sequence_kl, n_steps=len(prompts))
        buffer.update(
            ids=ids, attn=attn, comp=comp, mask=mask, old_logps=logps, old_values=values,
            advantages=whiten(advantages, mask), returns=returns, score=scores.mean(), kl=torch.tensor(sequence_kl),
        )  # fmt: skip

    def step(model: nn.Module, prompts: list[Prompt], progress: Progress) -> LossOutput:
        if progress.step % config.ppo_epochs == 0 or not buffer:
            refresh(model, prompts)
        b = buffer
        values, logps = _values_and_logps(model, b["ids"], b["attn"], b["comp"])
        policy = ppo_policy_loss(logps, b["old_logps"], b["advantages"], b["mask"], clip=config.clip)
        value = ppo_value_loss(values, b["old_values"], b["returns"], b["mask"], clip=config.value_clip)
        metrics = {
            **policy.metrics,
            **value.metrics,
            "score": b["score"].item(),
            "kl": b["kl"].item(),
            "kl_coef": kl_controller.value,
            "completion_length": b["mask"].sum(-1).mean().item(),
            "value_mean": masked_mean(values, b["mask"]).item(),
        }
        return LossOutput(policy.loss + config.vf_coef * value.loss, metrics)

    return step


def train_ppo(
    policy: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    reward_fns: Sequence[RewardFn],
    ppo: PPOConfig,
    config: TrainConfig,
    *,
    reference: nn.Module | None = None,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
    rollout_fn: RolloutFn = sample_rollout,
) -> list[dict[str, float]]:
    """Train ``policy`` in place with PPO. With a checkpoint folder, make ``checkpoint_every`` a multiple
    of ``ppo_epochs`` so that a resumed run starts on a fresh rollout."""
    model = PolicyWithValueHead(policy).to(next(policy.parameters()).device)
    controller = (
        AdaptiveKLController(ppo.kl_coef, ppo.kl_target, ppo.kl_horizon)
        if ppo.kl_target
        else FixedKLController(ppo.kl_coef)
    )
    step = ppo_step(tokenizer, reward_fns, Reference(policy, reference), controller, ppo, chat, rollout_fn)
    batches = [list(chunk) for chunk in chunks(list(prompts), ppo.prompts_per_step)]
    return train(model, step, epochs(batches, seed=options.seed), config, options, stateful=[controller])
