"""JumpReLU SAE (Rajamanoharan et al. 2024): per-latent thresholds θ trained through straight-through
estimators with a rectangle kernel of width ε,

    f_i = pre_i · H(pre_i − θ_i),      L_aux = λ₀ Σ_i H(pre_i − θ_i)  (L0, ramped up over the first steps),
    ∂f/∂θ ≈ −(θ/ε) K((pre − θ)/ε),     ∂L0/∂θ ≈ −(1/ε) K((pre − θ)/ε).
"""

from typing import Literal

import torch
from torch import nn

from ....config import NonNegativeFloat, PositiveFloat, Probability
from ..config import SAEConfig
from ..model import SAEOutput, SparseAutoencoder, TrainingState


class JumpReLUConfig(SAEConfig):
    architecture: Literal["jumprelu"] = "jumprelu"
    l0_coefficient: NonNegativeFloat = 1.0
    """Weight of the L0 penalty Σ_i H(pre_i − θ_i), ramped up over the first ``sparsity_warmup`` of training."""
    sparsity_warmup: Probability = 0.05
    jumprelu_bandwidth: PositiveFloat = 0.001
    """Width ε of the rectangle kernel in the straight-through estimator."""
    jumprelu_init_threshold: PositiveFloat = 0.001


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """pre · H(pre − θ); ∂/∂θ by the straight-through estimator."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return torch.where(pre > threshold, pre, torch.zeros_like(pre))

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = -(threshold / eps) * _rectangle((pre - threshold) / eps) * grad
        return (pre > threshold) * grad, grad_threshold.sum(0), None


class _Step(torch.autograd.Function):
    """H(pre − θ) for the L0 penalty; ∂/∂θ = −(1/ε) K((pre − θ)/ε), no gradient to pre."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        return None, (-(1 / eps) * _rectangle((pre - threshold) / eps) * grad).sum(0), None


class JumpReLUSAE(SparseAutoencoder):
    architecture = "jumprelu"
    config_class = JumpReLUConfig

    def __init__(self, config: JumpReLUConfig, *, seed: int = 0) -> None:
        super().__init__(config, seed=seed)
        self.jumprelu_threshold = nn.Parameter(torch.full((config.d_sae,), config.jumprelu_init_threshold))

    @property
    def threshold(self) -> torch.Tensor:
        return self.jumprelu_threshold

    def load_threshold(self, threshold: torch.Tensor) -> None:
        self.jumprelu_threshold.copy_(threshold)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return _JumpReLU.apply(pre, self.threshold, self.config.jumprelu_bandwidth)

    def l0_penalty(self, pre: torch.Tensor) -> torch.Tensor:
        """Σ_i H(pre_i − θ_i), mean over tokens, differentiable in θ."""
        return _Step.apply(pre, self.threshold, self.config.jumprelu_bandwidth).sum(-1).mean()

    def auxiliary_losses(
        self, x: torch.Tensor, out: SAEOutput, state: TrainingState
    ) -> dict[str, torch.Tensor]:
        ramp = state.ramp(self.config.sparsity_warmup)
        return {"l0": ramp * self.config.l0_coefficient * self.l0_penalty(out.pre_activations)}

    @torch.no_grad()
    def after_step(self) -> None:
        self.jumprelu_threshold.clamp_(min=1e-6)  # positive thresholds keep the rule a gated ReLU
