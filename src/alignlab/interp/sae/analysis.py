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
