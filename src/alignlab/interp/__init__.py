"""Interpretability on unmodified Hugging Face decoders: named hook sites, caches, patching, lenses."""

from .hooks import HookedModel, add_direction, mean_ablate, patch_from, zero_ablate

__all__ = ["HookedModel", "add_direction", "mean_ablate", "patch_from", "zero_ablate"]
