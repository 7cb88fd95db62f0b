"""Reading an SAE's features: where each fires most, how often, how strongly, what it writes, and steering
the model by clamping one.

Clamping feature i to value v edits the site's activation along its decoder direction only:

    x' = x + (v − f_i(x)) · W_dec,i

so the SAE's reconstruction error is kept (Templeton et al. 2024, "Scaling Monosemanticity").
"""

from dataclasses import dataclass, field

import torch

from ..hooks import HookedModel, HookFn
from ..lens import decode_residual
from .model import SparseAutoencoder
from .store import site_activations


@dataclass
class FeatureSummary:
    feature: int
    frequency: float  # fraction of tokens where it fires
    mean_activation: float  # mean activation when it fires
    max_activation: float
    top_contexts: list[tuple[float, str]] = field(default_factory=list)  # (activation, text with [[token]])
    promoted_tokens: list[str] = field(default_factory=list)  # top tokens of W_U · norm(W_dec,i)
    direction_norm: float = 0.0  # ‖W_dec,i‖: how strongly one unit of the feature writes into the activation


@dataclass(frozen=True)
class FeatureStatistics:
    """How an SAE's latents fire over a set of tokens, as counts and as fractions."""

    tokens: int
    total: int
    """Latents in the SAE (d_sae)."""
    active: int
    """Latents that fired on at least one token."""
    dead: int
    """Latents that never fired: total − active."""
    mean_activation: float
    """Mean of a latent's activation over the tokens where it fires, averaged over active latents."""
    mean_l0: float
    """Latents firing per token, on average."""

    @property
    def active_fraction(self) -> float:
        return self.active / self.total

    @property
    def dead_fraction(self) -> float:
        return self.dead / self.total

    @property
    def share_active_per_token(self) -> float:
        """The share of all latents firing on a typical token: mean L0 / d_sae."""
        return self.mean_l0 / self.total


def feature_statistics(activations: torch.Tensor) -> FeatureStatistics:
    """Statistics of feature activations (..., d_sae), e.g. ``sae.encode(x)`` or ``feature_activations``."""
    flat = activations.reshape(-1, activations.shape[-1])
    firing = flat > 0
    counts = firing.sum(0)
    active = int((counts > 0).sum())
    sums = torch.where(firing, flat, 0).sum(0)
    means = sums[counts > 0] / counts[counts > 0]
    return FeatureStatistics(
        tokens=len(flat), total=flat.shape[1], active=active, dead=flat.shape[1] - active,
        mean_activation=means.mean().item() if active else 0.0, mean_l0=firing.sum(1).float().mean().item(),
    )  # fmt: skip


@dataclass(frozen=True)
class TopFeatures:
    """The strongest features of one text."""

    tokens: list[str]
    per_token: list[list[tuple[int, float]]]
    """For each token, its top (feature, activation) pairs, strongest first."""
    overall: list[tuple[int, float]]
    """Features ranked by their largest activation anywhere in the text."""


@torch.no_grad()
def top_features(
    hooked: HookedModel, sae: SparseAutoencoder, site: str, tokenizer, text: str, k: int = 10
) -> TopFeatures:
    """The top-``k`` features (and their activations) of ``text`` at ``site``: per token and over the text.
    The first token (the model's attention sink) is left out, as everywhere features are read."""
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    if ids.shape[1] < 2:
        raise ValueError(f"text {text!r} is one token long; features are read from the second token on")
    codes = sae.encode(site_activations(hooked, site, ids))  # (T - 1, d_sae)
    k = min(k, codes.shape[1])
    values, indices = codes.topk(k, dim=-1)
    per_token = [[(i, v) for i, v in zip(row_i, row_v, strict=True) if v > 0]
                 for row_i, row_v in zip(indices.tolist(), values.tolist(), strict=True)]  # fmt: skip
    best = codes.max(0).values
    overall_values, overall_indices = best.topk(k)
    overall = [
        (i, v) for i, v in zip(overall_indices.tolist(), overall_values.tolist(), strict=True) if v > 0
    ]
    return TopFeatures([tokenizer.decode([t]) for t in ids[0, 1:].tolist()], per_token, overall)


@torch.no_grad()
def feature_activations(
    hooked: HookedModel, sae: SparseAutoencoder, site: str, blocks: torch.Tensor, batch_size: int = 8
) -> torch.Tensor:
    """(N, T - 1, d_sae) feature activations for every token of ``blocks`` but the first."""
    sae.eval()
    out = []
    for chunk in blocks.split(batch_size):
        acts = site_activations(hooked, site, chunk)  # (n * (T - 1), d_in)
        out.append(sae.encode(acts).view(len(chunk), blocks.shape[1] - 1, -1))
    return torch.cat(out)


def _context(tokenizer, ids: torch.Tensor, position: int, window: int) -> str:
    left = tokenizer.decode(ids[max(0, position - window) : position])
    token = tokenizer.decode(ids[position : position + 1])
    right = tokenizer.decode(ids[position + 1 : position + 1 + window // 3])
    return f"{left}[[{token}]]{right}".replace("\n", "⏎")


@torch.no_grad()
def summarize_features(
    hooked: HookedModel,
    sae: SparseAutoencoder,
    features: list[int],
    activations: torch.Tensor,
    blocks: torch.Tensor,
    tokenizer,
    *,
    top_k: int = 5,
    window: int = 12,
    promoted: int = 5,
) -> list[FeatureSummary]:
    """Summaries of ``features`` from precomputed ``activations`` = feature_activations(..., blocks)."""
    summaries = []
    n_tokens = activations.shape[0] * activations.shape[1]
    for i in features:
        column = activations[..., i]
        active = column[column > 0]
        flat = column.flatten()
        best = flat.topk(min(top_k, int((flat > 0).sum()))) if len(active) else None
        contexts = []
        if best is not None:
            for value, index in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                row, position = divmod(index, column.shape[1])
                contexts.append((round(value, 3), _context(tokenizer, blocks[row], position + 1, window)))
        logits = decode_residual(hooked, sae.W_dec[i] / sae.W_dec[i].norm())
        summaries.append(
            FeatureSummary(
                feature=i,
                frequency=len(active) / n_tokens,
                mean_activation=active.mean().item() if len(active) else 0.0,
                max_activation=active.max().item() if len(active) else 0.0,
                top_contexts=contexts,
                promoted_tokens=[tokenizer.decode([t]) for t in logits.topk(promoted).indices.tolist()],
                direction_norm=sae.feature_direction(i).norm().item(),
            )
        )
    return summaries


def clamp_feature(sae: SparseAutoencoder, feature: int, value: float, skip_first: bool = True) -> HookFn:
    """A hook for the SAE's site that clamps ``feature`` to ``value`` at every position but the first (the
    BOS token) of a full forward pass; during cached generation, where a pass sees one new token, at it."""

    @torch.no_grad()
    def fn(activation: torch.Tensor) -> torch.Tensor:
        current = sae.encode(activation.float())[..., feature]
        delta = (value - current).unsqueeze(-1) * sae.W_dec[feature]
        if skip_first and activation.shape[1] > 1:
            delta[:, 0] = 0
        return activation + delta.to(activation.dtype)

    return fn
