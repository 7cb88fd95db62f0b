"""Sparse autoencoders: configuration, the model (ReLU, TopK, BatchTopK, JumpReLU), activation stores, the
trainer, metrics, feature analysis and steering, and SAELens's on-disk format."""

from .analysis import FeatureSummary, clamp_feature, feature_activations, summarize_features
from .config import SAEConfig
from .metrics import (
    ReconstructionStats,
    SAEEvaluation,
    ce_loss_recovered,
    ce_losses_per_block,
    evaluate_sae,
    explained_variance,
    l0,
    splice_sae,
)
from .model import SAEOutput, SparseAutoencoder
from .saelens_format import load_sae, save_sae
from .store import ActivationStore, site_activations, stream_activations
from .train import aux_k_loss, train_sae

__all__ = [
    "ActivationStore",
    "FeatureSummary",
    "ReconstructionStats",
    "SAEConfig",
    "SAEEvaluation",
    "SAEOutput",
    "SparseAutoencoder",
    "aux_k_loss",
    "ce_loss_recovered",
    "ce_losses_per_block",
    "clamp_feature",
    "evaluate_sae",
    "explained_variance",
    "feature_activations",
    "l0",
    "load_sae",
    "save_sae",
    "site_activations",
    "splice_sae",
    "stream_activations",
    "summarize_features",
    "train_sae",
]
