"""Interpretability on unmodified Hugging Face decoders: named hook sites, caches, patching, lenses, probes,
induction scores, superposition toys and MoE routing statistics (sparse autoencoders in ``interp.sae``)."""

from .hooks import HookedModel, ablate_heads, add_direction, mean_ablate, patch_from, zero_ablate
from .induction import icl_score, prefix_matching_scores, repeated_random_tokens
from .lens import logit_lens
from .moe import analyze_routing, expert_load, load_cv
from .patching import activation_patching, attribution_patching, head_patching, logit_difference, patch_cells
from .probes import ProbeResult, probe_layers, residual_features
from .superposition import ToySuperpositionModel, matched_cosines, sparse_features, train_toy_model
from .tuned_lens import TunedLens, lens_kl_per_block, train_tuned_lens

__all__ = [
    "HookedModel",
    "ProbeResult",
    "ToySuperpositionModel",
    "TunedLens",
    "ablate_heads",
    "activation_patching",
    "add_direction",
    "analyze_routing",
    "attribution_patching",
    "expert_load",
    "head_patching",
    "icl_score",
    "lens_kl_per_block",
    "load_cv",
    "logit_difference",
    "logit_lens",
    "matched_cosines",
    "mean_ablate",
    "patch_cells",
    "patch_from",
    "prefix_matching_scores",
    "probe_layers",
    "repeated_random_tokens",
    "residual_features",
    "sparse_features",
    "train_toy_model",
    "train_tuned_lens",
    "zero_ablate",
]
