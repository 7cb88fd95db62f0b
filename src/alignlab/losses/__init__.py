"""Losses as pure functions of tensors: ``(tensors, hyper-parameters) -> LossOutput(loss, metrics)``.

Each docstring gives the formula and the paper; nothing here knows about models or trainers.
"""

from .base import LossOutput, masked_mean
from .distill import hinton_distillation, token_kl
from .policy_gradient import (
    AdaptiveKLController,
    FixedKLController,
    gae,
    group_advantages,
    grpo_loss,
    kl_penalty,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)
from .preference import (
    PAIRWISE_LOSSES,
    PairwiseLoss,
    dpo_loss,
    dr_dpo_loss,
    hinge_loss,
    implicit_reward,
    ipo_loss,
    kto_loss,
    pairwise_loss,
    robust_dpo_loss,
)
from .reward import bradley_terry
from .sft import masked_nll

__all__ = [
    "PAIRWISE_LOSSES",
    "AdaptiveKLController",
    "FixedKLController",
    "LossOutput",
    "PairwiseLoss",
    "bradley_terry",
    "dpo_loss",
    "dr_dpo_loss",
    "gae",
    "group_advantages",
    "grpo_loss",
    "hinge_loss",
    "hinton_distillation",
    "implicit_reward",
    "ipo_loss",
    "kl_penalty",
    "kto_loss",
    "masked_mean",
    "masked_nll",
    "pairwise_loss",
    "ppo_policy_loss",
    "ppo_value_loss",
    "robust_dpo_loss",
    "token_kl",
    "whiten",
]
