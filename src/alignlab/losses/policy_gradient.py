"""Policy-gradient pieces for RLHF: GAE, PPO's clipped losses, per-token KL penalties and controllers, GRPO.

Shapes: per-token tensors are (B, T) over completion tokens with a (B, T) mask of real tokens.
``logps`` are log pi(a_t | s_t) of the sampled tokens under the current policy, ``old_logps`` under the
policy that sampled them, ``ref_logps`` under the frozen reference.
"""

from typing import Literal

import torch

from .base import LossOutput, check_same_shape, check_shapes, masked_mean


def kl_penalty(
    logps: torch.Tensor, ref_logps: torch.Tensor, estimator: Literal["k1", "k3"] = "k1"
) -> torch.Tensor:
    """Per-token estimates of KL(pi || pi_ref) from samples of pi (Schulman 2020, "Approximating KL"):

    k1 = log pi - log pi_ref                         unbiased, can be negative
    k3 = exp(log pi_ref - log pi) - (log pi_ref - log pi) - 1   unbiased, always >= 0, lower variance
    """
    log_ratio = logps - ref_logps
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; use k1 or k3")


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, *, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016), right-padded sequences.

        delta_t = r_t + gamma V_{t+1} - V_t,   A_t = delta_t + gamma lam A_{t+1},   returns R_t = A_t + V_t,
    with V and A zero past the last real token. rewards, values, mask: (B, T) -> (advantages, returns).
    """
    mask = mask.to(values.dtype)
    values = values * mask
    advantages = torch.zeros_like(values)
    next_value = torch.zeros_like(values[:, 0])
    next_advantage = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = (delta + gamma * lam * next_advantage) * mask[:, t]
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    return advantages, advantages + values


def whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise to unit variance (and zero mean) over the masked entries, as PPO does to advantages."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    return whitened if shift_mean else whitened + mean


def ppo_policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip: float = 0.2,
) -> LossOutput:
    """PPO's clipped surrogate (Schulman et al. 2017), per token:

    ratio = exp(log pi - log pi_old),   L = mean_t max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)).
    """
    check_shapes("ppo_policy_loss", "per-token (B, T) tensors", logps=(logps, 2), old_logps=(old_logps, 2),
                 advantages=(advantages, 2), mask=(mask, 2))  # fmt: skip
    check_same_shape("ppo_policy_loss", logps=logps, old_logps=old_logps, advantages=advantages, mask=mask)
    ratio = torch.exp(logps - old_logps)
    unclipped, clipped = -advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    return LossOutput(
        loss,
        {
            "policy_loss": loss.item(),
            "clip_fraction": masked_mean((clipped > unclipped).float(), mask).item(),
            "approx_kl": masked_mean(0.5 * (logps - old_logps) ** 2, mask).item(),
        },
    )


def ppo_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip: float = 0.2,
) -> LossOutput:
    """Clipped value loss:  L = 1/2 mean_t max((V - R)^2, (clip(V, V_old - eps, V_old + eps) - R)^2)."""
    check_same_shape("ppo_value_loss", values=values, old_values=old_values, returns=returns, mask=mask)
    clipped_values = old_values + (values - old_values).clamp(-clip, clip)
    loss = 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped_values - returns) ** 2), mask)
    return LossOutput(loss, {"value_loss": loss.item()})


class FixedKLController:
    """A constant KL coefficient beta."""

    def __init__(self, coef: float) -> None:
        self.value = coef

    def update(self, observed_kl: float, n_steps: int) -> None:
        pass

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = state["value"]


class AdaptiveKLController:
    """Ziegler et al. 2019: steer the observed KL towards a target,

    e = clip(KL / target - 1, -0.2, 0.2),   beta <- beta (1 + e n_steps / horizon).
    """

    def __init__(self, init: float, target: float, horizon: int) -> None:
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, observed_kl: float, n_steps: int) -> None:
        error = min(max(observed_kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * n_steps / self.horizon

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = state["value"]


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, scale: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """GRPO's advantages (Shao et al. 2024): each completion's reward relative to the others for its prompt,

        A_i = (r_i - mean(r_group)) / (std(r_group) + eps)        (scale=True, DeepSeekMath)
        A_i =  r_i - mean(r_group)                                (scale=False, Dr. GRPO; Liu et al. 2025)

    rewards: (B,) laid out as consecutive groups of ``group_size`` -> (B,).
    """
    if group_size < 2:
        raise ValueError(
            f"group_advantages: group_size must be at least 2 (a group of one has no baseline), got {group_size}"
        )
    check_shapes("group_advantages", rewards=(rewards, 1))
    if len(rewards) % group_size:
        raise ValueError(f"group_advantages: {len(rewards)} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.view(-1)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip: float = 0.2,
    beta: float = 0.04,
    normalization: Literal["sequence", "token", "dr_grpo"] = "sequence",
    max_completion_length: int | None = None,
) -> LossOutput:
    """GRPO (Shao et al. 2024): PPO's clipped objective with a group-relative advantage per sequence and
    the k3 KL estimate to the reference *in the loss* (not in the reward):

        l_t = -min(ratio_t A, clip(ratio_t, 1 - eps, 1 + eps) A) + beta * k3_t

    ``normalization`` — how per-token terms become one number:
        sequence  mean over each sequence's tokens, then over sequences (DeepSeekMath)
        token     mean over all tokens of the batch (DAPO; TRL's default)
        dr_grpo   sum over tokens / (B * max_completion_length) (Dr. GRPO: no length bias)
    logps, old_logps, ref_logps, mask: (B, T); advantages: (B,). ``ref_logps=None`` or beta=0: no KL term.
    """
    check_shapes("grpo_loss", "per-token (B, T) log-probabilities and mask, one advantage per sequence (B,)",
                 logps=(logps, 2), old_logps=(old_logps, 2), advantages=(advantages, 1), mask=(mask, 2))  # fmt: skip
    check_same_shape("grpo_loss", logps=logps, old_logps=old_logps, mask=mask)
    ratio = torch.exp(logps - old_logps)
    a = advantages.unsqueeze(1)  # (B, 1)
    per_token = -torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    kl = kl_penalty(logps, ref_logps, "k3") if ref_logps is not None else torch.zeros_like(logps)
    if beta and ref_logps is not None:
        per_token = per_token + beta * kl
    if normalization == "sequence":
        loss = masked_mean(per_token, mask, dim=1).mean()
    elif normalization == "token":
        loss = masked_mean(per_token, mask)
    elif normalization == "dr_grpo":
        length = max_completion_length or mask.shape[1]
        loss = (per_token * mask).sum() / (mask.shape[0] * length)
    else:
        raise ValueError(f"unknown normalization {normalization!r}; use sequence, token or dr_grpo")
    return LossOutput(
        loss,
        {
            "kl": masked_mean(kl, mask).item(),
            "clip_fraction": masked_mean(((ratio - 1).abs() > clip).float(), mask).item(),
        },
    )
