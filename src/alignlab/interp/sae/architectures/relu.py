"""ReLU SAE with the decoder-norm-weighted L1 penalty (Anthropic, "Towards Monosemanticity" and its April 2024
update):  f = ReLU(pre),  L_aux = λ₁ Σ_i f_i ‖W_dec,i‖, with λ₁ ramped up over the first steps."""

from typing import Literal

import torch

from ....config import NonNegativeFloat, Probability
from ..config import SAEConfig
from ..model import SAEOutput, SparseAutoencoder, TrainingState


class ReLUConfig(SAEConfig):
    architecture: Literal["relu"] = "relu"
    l1_coefficient: NonNegativeFloat = 5.0
    """Weight of Σ_i f_i ‖W_dec,i‖, ramped up linearly over the first ``sparsity_warmup`` of training."""
    sparsity_warmup: Probability = 0.05


class ReLUSAE(SparseAutoencoder):
    architecture = "relu"
    config_class = ReLUConfig

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)

    def auxiliary_losses(
        self, x: torch.Tensor, out: SAEOutput, state: TrainingState
    ) -> dict[str, torch.Tensor]:
        ramp = state.ramp(self.config.sparsity_warmup)
        l1 = (out.features * self.W_dec.norm(dim=1)).sum(-1).mean()
        return {"l1": ramp * self.config.l1_coefficient * l1}
