"""SAE features for safety work: find latents that separate contrast prompts (deception, sycophancy, refusal,
uncertainty: whatever the two prompt sets differ in), watch them on a model's activations before it answers, and
see which latents a fine-tune changed.

A latent's separation is Cohen's d between its activation on the two sets, read at each prompt's last token
(where the model is about to answer):

    d = (mean₊ − mean₋) / s_pooled,    s_pooled² = ((n₊ − 1) s₊² + (n₋ − 1) s₋²) / (n₊ + n₋ − 2)
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...errors import AlignlabError
from ...scoring.encode import Prompt, encode_prompts
from ..hooks import HookedModel
from .model import SparseAutoencoder


@torch.no_grad()
def last_token_activations(
    hooked: HookedModel, site: str, tokenizer, prompts: Sequence[Prompt], *, chat: bool = True
) -> torch.Tensor:
    """(n_prompts, d_model) float32 activations at ``site`` at each prompt's last token (chat-formatted when
    ``chat``): where the model is about to answer. Each forward pass stops at the site."""
    device = next(hooked.model.parameters()).device
    rows = []
    for ids in encode_prompts(tokenizer, prompts, chat=chat):
        _, cache = hooked.run_with_cache(torch.tensor([ids], device=device), names=[site], stop_early=True)
        rows.append(cache[site][0, -1].float())
    return torch.stack(rows)


@torch.no_grad()
def last_token_codes(
    hooked: HookedModel,
    sae: SparseAutoencoder,
    site: str,
    tokenizer,
    prompts: Sequence[Prompt],
    *,
    chat: bool = True,
) -> torch.Tensor:
    """(n_prompts, d_sae) feature activations at each prompt's last token (chat-formatted when ``chat``)."""
    acts = last_token_activations(hooked, site, tokenizer, prompts, chat=chat)
    return sae.encode(acts.to(sae.W_dec.device)).cpu()


@dataclass(frozen=True)
class ContrastFeature:
    feature: int
    effect_size: float
    """Cohen's d, positive set minus negative set."""
    mean_positive: float
    mean_negative: float


def contrast_features(positive: torch.Tensor, negative: torch.Tensor, top: int = 10) -> list[ContrastFeature]:
    """The ``top`` latents by |Cohen's d| between two sets of codes (n, d_sae) each, strongest first. Latents
    silent on both sets are left out."""
    if len(positive) < 2 or len(negative) < 2:
        raise AlignlabError(
            f"each contrast set needs at least 2 prompts; got {len(positive)} and {len(negative)}"
        )
    n1, n2 = len(positive), len(negative)
    pooled = (((n1 - 1) * positive.var(0) + (n2 - 1) * negative.var(0)) / (n1 + n2 - 2)).sqrt()
    difference = positive.mean(0) - negative.mean(0)
    d = difference / pooled.clamp_min(1e-6)
    silent = (positive.abs().sum(0) == 0) & (negative.abs().sum(0) == 0)
    ranking = torch.where(silent, -1.0, d.abs())
    order = [i for i in ranking.argsort(descending=True).tolist() if not silent[i]][:top]
    return [ContrastFeature(i, float(d[i]), float(positive[:, i].mean()), float(negative[:, i].mean()))
            for i in order]  # fmt: skip


@dataclass(frozen=True)
class MonitorReading:
    prompt: Prompt
    activations: dict[int, float]
    """Each watched latent's activation at the prompt's last token."""
    flagged: bool


class FeatureMonitor:
    """Watches latents on the activations a model computes before it answers: a prompt is flagged when any
    watched latent exceeds its threshold at the prompt's last token (thresholds set, for instance, halfway
    between the two contrast sets' means)."""

    def __init__(
        self, hooked: HookedModel, sae: SparseAutoencoder, site: str, tokenizer, thresholds: dict[int, float]
    ) -> None:
        if not thresholds:
            raise AlignlabError("a monitor needs at least one latent to watch")
        for feature in thresholds:
            sae.feature_direction(feature)  # an index outside the SAE is an error here
        self.hooked, self.sae, self.site, self.tokenizer, self.thresholds = (
            hooked,
            sae,
            site,
            tokenizer,
            thresholds,
        )

    @classmethod
    def from_contrast(
        cls, hooked, sae, site, tokenizer, features: Sequence[ContrastFeature]
    ) -> "FeatureMonitor":
        """Watch latents that fire more on the positive set, each with the midpoint of the two means as threshold."""
        return cls(hooked, sae, site, tokenizer,
                   {f.feature: (f.mean_positive + f.mean_negative) / 2 for f in features if f.effect_size > 0})  # fmt: skip

    def check(self, prompts: Sequence[Prompt], *, chat: bool = True) -> list[MonitorReading]:
        codes = last_token_codes(self.hooked, self.sae, self.site, self.tokenizer, prompts, chat=chat)
        readings = []
        for prompt, row in zip(prompts, codes, strict=True):
            values = {f: float(row[f]) for f in self.thresholds}
            readings.append(
                MonitorReading(prompt, values, any(values[f] > t for f, t in self.thresholds.items()))
            )
        return readings


@dataclass(frozen=True)
class FeatureChange:
    feature: int
    frequency_before: float
    frequency_after: float
    mean_before: float
    mean_after: float

    @property
    def frequency_change(self) -> float:
        return self.frequency_after - self.frequency_before


def feature_changes(before: torch.Tensor, after: torch.Tensor, top: int = 10) -> list[FeatureChange]:
    """Which latents a fine-tune changed: codes (tokens, d_sae) of the same text through the model before and
    after (read with the same SAE), ranked by the change in how often each fires, largest first."""
    if before.shape != after.shape:
        raise AlignlabError(f"codes before and after must cover the same tokens: {tuple(before.shape)} vs "
                            f"{tuple(after.shape)}")  # fmt: skip
    fired_before, fired_after = (before > 0).float(), (after > 0).float()
    change = fired_after.mean(0) - fired_before.mean(0)
    order = change.abs().argsort(descending=True)[:top]

    def mean_when_firing(codes: torch.Tensor, fired: torch.Tensor, i: int) -> float:
        return float(codes[:, i].sum() / fired[:, i].sum().clamp_min(1))

    return [FeatureChange(int(i), float(fired_before[:, i].mean()), float(fired_after[:, i].mean()),
                          mean_when_firing(before, fired_before, i), mean_when_firing(after, fired_after, i))
            for i in order if change[i] != 0]  # fmt: skip
