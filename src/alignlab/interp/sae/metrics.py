"""How good an SAE is: sparsity (L0), reconstruction (explained variance), faithfulness to the model
(CE loss recovered), and latent health (dead and dense features).

    L0 = E_tokens |{i : f_i > 0}|
    explained variance = 1 − Σ_t ‖x_t − x̂_t‖² / Σ_t ‖x_t − x̄‖²       (pooled over tokens and dimensions)
    CE recovered = (CE_abl − CE_sae) / (CE_abl − CE_clean)            (1: as good as the model, 0: as bad as
                                                                      ablating the site)

The ablation is zero-ablation (lenient: a zeroed residual stream is far off-distribution, so almost any
reconstruction "recovers" most of it) or mean-ablation (stricter: the site's mean activation). Report the
loss increase CE_sae − CE_clean in nats beside either ratio.
"""

from dataclasses import dataclass

import torch

from ..hooks import HookedModel
from .model import SparseAutoencoder


def l0(features: torch.Tensor) -> float:
    """Mean number of active latents per token."""
    return (features > 0).sum(-1).float().mean().item()


class ReconstructionStats:
    """Streaming sums in float64, so explained variance over millions of tokens does not drift."""

    def __init__(self) -> None:
        self.n = 0
        self.sum: torch.Tensor | None = None
        self.sum_squares = 0.0
        self.sum_errors = 0.0

    def update(self, x: torch.Tensor, reconstruction: torch.Tensor) -> None:
        x64 = x.detach().double()
        self.n += len(x64)
        self.sum = x64.sum(0) if self.sum is None else self.sum + x64.sum(0)
        self.sum_squares += x64.pow(2).sum().item()
        self.sum_errors += (x64 - reconstruction.detach().double()).pow(2).sum().item()

    @property
    def explained_variance(self) -> float:
        total = self.sum_squares - self.sum.pow(2).sum().item() / self.n
        return 1.0 - self.sum_errors / total

    @property
    def mse(self) -> float:
        """Mean over tokens of ‖x − x̂‖²."""
        return self.sum_errors / self.n


def explained_variance(x: torch.Tensor, reconstruction: torch.Tensor) -> float:
    stats = ReconstructionStats()
    stats.update(x, reconstruction)
    return stats.explained_variance


@dataclass(frozen=True)
class SAEEvaluation:
    l0: float
    explained_variance: float
    mse: float
    dead_fraction: float
    dense_fraction: float
    frequencies: torch.Tensor  # (d_sae,) fraction of tokens on which each latent fires


@torch.no_grad()
def evaluate_sae(
    sae: SparseAutoencoder,
    activations: torch.Tensor,
    *,
    batch_size: int = 4096,
    dense_threshold: float | None = None,
) -> SAEEvaluation:
    """Evaluate in inference mode on held-out activations (N, d_in). Dead: never fires on them."""
    was_training = sae.training
    sae.eval()
    stats, fired, active = ReconstructionStats(), torch.zeros(sae.config.d_sae, dtype=torch.float64), 0.0
    for chunk in activations.split(batch_size):
        out = sae(chunk)
        stats.update(chunk, out.reconstruction)
        fired += (out.features > 0).sum(0).double()
        active += (out.features > 0).sum().item()
    sae.train(was_training)
    frequencies = (fired / len(activations)).float()
    dense = dense_threshold if dense_threshold is not None else sae.config.dense_threshold
    return SAEEvaluation(
        l0=active / len(activations),
        explained_variance=stats.explained_variance,
        mse=stats.mse,
        dead_fraction=(frequencies == 0).float().mean().item(),
        dense_fraction=(frequencies > dense).float().mean().item(),
        frequencies=frequencies,
    )


def splice_sae(sae: SparseAutoencoder, skip_first: bool = True):
    """A hook that replaces a site's activation with its SAE reconstruction (position 0, the BOS token the
    SAE never saw in training, kept as is when ``skip_first``)."""

    def fn(activation: torch.Tensor) -> torch.Tensor:
        out = sae(activation.float()).reconstruction.to(activation.dtype)
        if skip_first:
            out[:, 0] = activation[:, 0]
        return out

    return fn


@torch.no_grad()
def ce_losses_per_block(
    hooked: HookedModel, sae: SparseAutoencoder, site: str, blocks: torch.Tensor, batch_size: int = 8
) -> dict[str, list[float]]:
    """Per block of ``blocks``: next-token cross-entropy clean, with the SAE spliced in at ``site``, with the
    site zero-ablated and with it mean-ablated (positions after the first; the mean over those positions of
    ``blocks``)."""
    sae.eval()
    device = next(hooked.model.parameters()).device
    total, count = None, 0
    for chunk in blocks.split(batch_size):
        _, cache = hooked.run_with_cache(chunk.to(device), names=[site], stop_early=True)
        acts = cache[site][:, 1:].float().flatten(0, 1)
        total = acts.sum(0) if total is None else total + acts.sum(0)
        count += len(acts)
    mean = total / count

    def ablate_after_first(value: torch.Tensor | float):
        def fn(activation: torch.Tensor) -> torch.Tensor:
            out = activation.clone()
            out[:, 1:] = value if isinstance(value, float) else value.to(activation.dtype)
            return out

        return fn

    variants = {
        "clean": {},
        "sae": {site: splice_sae(sae)},
        "zero": {site: ablate_after_first(0.0)},
        "mean": {site: ablate_after_first(mean)},
    }
    losses: dict[str, list[float]] = {name: [] for name in variants}
    for chunk in blocks.split(batch_size):
        ids = chunk.to(device)
        for name, hooks in variants.items():
            logits = hooked.run_with_hooks(ids, hooks)
            per_token = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().transpose(1, 2), ids[:, 1:], reduction="none"
            )
            losses[name] += per_token.mean(-1).tolist()
    return losses


def ce_loss_recovered(
    hooked: HookedModel, sae: SparseAutoencoder, site: str, blocks: torch.Tensor, batch_size: int = 8
) -> dict[str, float]:
    """Mean cross-entropies (clean, sae, zero, mean) over ``blocks``, the share of the clean-to-ablated gap
    the SAE keeps against zero-ablation (``recovered``) and mean-ablation (``recovered_mean``), and the loss
    increase ``sae − clean`` in nats."""
    per_block = ce_losses_per_block(hooked, sae, site, blocks, batch_size)
    losses = {k: sum(v) / len(v) for k, v in per_block.items()}
    losses["recovered"] = (losses["zero"] - losses["sae"]) / (losses["zero"] - losses["clean"])
    losses["recovered_mean"] = (losses["mean"] - losses["sae"]) / (losses["mean"] - losses["clean"])
    losses["increase"] = losses["sae"] - losses["clean"]
    return losses
