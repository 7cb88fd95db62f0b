"""Interpretability on unmodified Hugging Face decoders: named hook sites, caches, patching, lenses."""

from .hooks import HookedModel, ablate_heads, add_direction, mean_ablate, patch_from, zero_ablate
from .lens import logit_lens
from .patching import activation_patching, attribution_patching, head_patching, logit_difference

__all__ = [
    "HookedModel",
    "ablate_heads",
    "activation_patching",
    "attribution_patching",
    "head_patching",
    "logit_difference",
    "add_direction",
    "logit_lens",
    "mean_ablate",
    "patch_from",
    "zero_ablate",
]
