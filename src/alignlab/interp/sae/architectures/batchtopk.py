"""BatchTopK SAE (Bussmann et al. 2024): while training, the k·B largest activations of a batch of B tokens
stay active (so k per token on average); at inference a single learned threshold θ gates every latent, so a
token's code never depends on its batch-mates. AuxK as in TopK."""

from typing import Literal

import torch

from ....config import OpenProbability
from ..model import SAEOutput, SparseAutoencoder, TrainingState
from .topk import TopKConfig, aux_k_loss


class BatchTopKConfig(TopKConfig):
    architecture: Literal["batchtopk"] = "batchtopk"  # type: ignore[assignment]
    batchtopk_threshold_rate: OpenProbability = 0.01
    """EMA rate of the inference threshold (the smallest activation kept in each batch)."""


class BatchTopKSAE(SparseAutoencoder):
    architecture = "batchtopk"
    config_class = BatchTopKConfig

    def __init__(self, config: BatchTopKConfig, *, seed: int = 0) -> None:
        super().__init__(config, seed=seed)
        self.register_buffer("batch_threshold", torch.tensor(0.0))

    @property
    def threshold(self) -> torch.Tensor:
        return self.batch_threshold.expand(self.config.d_sae)

    def load_threshold(self, threshold: torch.Tensor) -> None:
        self.batch_threshold.copy_(threshold.flatten()[0])

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return torch.where(pre > self.threshold, pre, torch.zeros_like(pre))
        flat = torch.relu(pre).flatten()
        keep = flat.topk(min(self.config.k * len(pre), flat.numel()))
        self._update_batch_threshold(keep.values)
        return torch.zeros_like(flat).scatter(0, keep.indices, keep.values).view_as(pre)

    @torch.no_grad()
    def _update_batch_threshold(self, kept: torch.Tensor) -> None:
        positive = kept[kept > 0]
        if len(positive):
            rate, minimum = self.config.batchtopk_threshold_rate, positive.min()
            first = self.batch_threshold == 0
            self.batch_threshold.copy_(
                torch.where(first, minimum, (1 - rate) * self.batch_threshold + rate * minimum)
            )

    def auxiliary_losses(
        self, x: torch.Tensor, out: SAEOutput, state: TrainingState
    ) -> dict[str, torch.Tensor]:
        aux = aux_k_loss(self, x, out, state.dead, self.config.resolved_aux_k)
        return {"aux_k": self.config.aux_coefficient * aux}
