"""TopK SAE (Gao et al. 2024): exactly k active latents per token, and AuxK, which trains dead latents to
model what the live ones miss:

    f = TopK(ReLU(pre)),   L_aux = α ‖e − Σ_{i ∈ topk_aux(dead)} f_i W_dec,i‖² / ‖e‖²,   e = x − x̂.
"""

from typing import Literal

import torch
from pydantic import model_validator

from ....config import Count, NonNegativeFloat
from ..config import SAEConfig
from ..model import SAEOutput, SparseAutoencoder, TrainingState


class TopKConfig(SAEConfig):
    architecture: Literal["topk"] = "topk"
    k: Count = 32
    """Active latents per token."""
    aux_k: Count | None = None
    """Dead latents used to model the residual error (default d_in // 2)."""
    aux_coefficient: NonNegativeFloat = 1 / 32

    @property
    def resolved_aux_k(self) -> int:
        return self.aux_k if self.aux_k is not None else max(1, self.d_in // 2)

    @model_validator(mode="after")
    def _k_fits(self) -> "TopKConfig":
        if self.k > self.d_sae:
            raise ValueError(f"k ({self.k}) must be between 1 and d_sae ({self.d_sae})")
        return self


def aux_k_loss(
    sae: SparseAutoencoder, x: torch.Tensor, out: SAEOutput, dead: torch.Tensor, aux_k: int
) -> torch.Tensor:
    """Reconstruct the residual error with the top-``aux_k`` dead latents, normalised by the error's power, so
    the dead latents get a gradient towards what the live ones miss; 0 when no latent is dead."""
    n_dead = int(dead.sum())
    if n_dead == 0:
        return x.new_zeros(())
    residual = (x - out.reconstruction).detach()
    pre = out.pre_activations.masked_fill(~dead, float("-inf"))
    values, indices = sae.topk_codes(pre, min(aux_k, n_dead))
    error = sae.decode_sparse(values, indices) - residual
    return error.pow(2).sum(-1).mean() / residual.pow(2).sum(-1).mean().clamp_min(1e-12)


class TopKSAE(SparseAutoencoder):
    architecture = "topk"
    config_class = TopKConfig

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        values, indices = self.topk_codes(pre, self.config.k)
        return torch.zeros_like(pre).scatter(-1, indices, values)

    def forward(self, x: torch.Tensor) -> SAEOutput:
        pre = self.pre_activations(x)
        values, indices = self.topk_codes(pre, self.config.k)
        features = torch.zeros_like(pre).scatter(-1, indices, values)
        return SAEOutput(self.decode_sparse(values, indices) + self.b_dec, features, pre)

    def auxiliary_losses(
        self, x: torch.Tensor, out: SAEOutput, state: TrainingState
    ) -> dict[str, torch.Tensor]:
        aux = aux_k_loss(self, x, out, state.dead, self.config.resolved_aux_k)
        return {"aux_k": self.config.aux_coefficient * aux}
