"""Reward-model training on preference pairs (Bradley-Terry)."""

import torch
import torch.nn.functional as F

from .base import LossOutput, check_same_shape, check_shapes


def bradley_terry(
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    center_coef: float = 0.0,
) -> LossOutput:
    """L = -log sigma(r_c - r_r - m) + eta * (r_c + r_r)^2, averaged over pairs.

    Bradley & Terry 1952; Ouyang et al. 2022 (InstructGPT). ``margin`` m (B,) is Llama 2's preference
    margin (Touvron et al. 2023); ``center_coef`` eta pushes rewards towards zero mean (Eisenstein et al.
    2023), as TRL's ``center_rewards_coefficient``. chosen_rewards, rejected_rewards: (B,).
    """
    check_shapes(
        "bradley_terry", "pass one scalar reward per sequence, (B,); a causal LM's (B, T, V) logits are not rewards "
        "(make a reward model with training.reward_model.reward_model_from)",
        chosen_rewards=(chosen_rewards, 1), rejected_rewards=(rejected_rewards, 1),
    )  # fmt: skip
    check_same_shape("bradley_terry", chosen_rewards=chosen_rewards, rejected_rewards=rejected_rewards)
    diff = chosen_rewards - rejected_rewards
    if margin is not None:
        diff = diff - margin
    loss = -F.logsigmoid(diff).mean()
    if center_coef:
        loss = loss + center_coef * ((chosen_rewards + rejected_rewards) ** 2).mean()
    return LossOutput(
        loss,
        {
            "accuracy": (chosen_rewards > rejected_rewards).float().mean().item(),
            "margin": (chosen_rewards - rejected_rewards).mean().item(),
            "reward_mean": torch.cat([chosen_rewards, rejected_rewards]).mean().item(),
        },
    )
