"""Sparse autoencoders: configuration, the model (ReLU, TopK, BatchTopK, JumpReLU), activation stores, the
trainer, metrics, feature analysis and steering, and SAELens's on-disk format."""

from .analysis import FeatureSummary, clamp_feature, feature_activations, summarize_features
from .architectures import SAE_ARCHITECTURES, architecture_class, aux_k_loss, build_sae, sae_config
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
from .model import SAEOutput, SparseAutoencoder, TrainingState
from .saelens_format import load_sae, save_sae
from .store import ActivationStore, site_activations, stream_activations
from .train import SAETrainer, train_sae

__all__ = [
    "SAE_ARCHITECTURES",
    "ActivationStore",
    "FeatureSummary",
    "ReconstructionStats",
    "SAEConfig",
    "SAEEvaluation",
    "SAEOutput",
    "SAETrainer",
    "SparseAutoencoder",
    "TrainingState",
    "architecture_class",
    "aux_k_loss",
    "build_sae",
    "ce_loss_recovered",
    "ce_losses_per_block",
    "clamp_feature",
    "evaluate_sae",
    "explained_variance",
    "feature_activations",
    "l0",
    "load_sae",
    "sae_config",
    "save_sae",
    "site_activations",
    "splice_sae",
    "stream_activations",
    "summarize_features",
    "train_sae",
]
