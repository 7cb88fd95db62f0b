"""Sparse autoencoders: configuration, the model (ReLU, TopK, BatchTopK, JumpReLU), activation stores, the
trainer, metrics, feature analysis and steering, and SAELens's on-disk format."""

from .analysis import (
    FeatureStatistics,
    FeatureSummary,
    TopFeatures,
    clamp_feature,
    feature_activations,
    feature_statistics,
    summarize_features,
    top_features,
)
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
from .model import SAELoss, SAEOutput, SparseAutoencoder, TrainingState
from .saelens_format import load_sae, save_sae
from .safety import (
    ContrastFeature,
    FeatureChange,
    FeatureMonitor,
    contrast_features,
    feature_changes,
    last_token_activations,
    last_token_codes,
)
from .store import ActivationStore, hidden_state_activations, site_activations, stream_activations
from .train import SAETrainer, train_sae

__all__ = [
    "ContrastFeature",
    "FeatureChange",
    "FeatureMonitor",
    "contrast_features",
    "feature_changes",
    "last_token_activations",
    "last_token_codes",
    "SAE_ARCHITECTURES",
    "ActivationStore",
    "FeatureStatistics",
    "FeatureSummary",
    "ReconstructionStats",
    "SAEConfig",
    "SAEEvaluation",
    "SAELoss",
    "SAEOutput",
    "SAETrainer",
    "SparseAutoencoder",
    "TopFeatures",
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
    "feature_statistics",
    "hidden_state_activations",
    "l0",
    "load_sae",
    "sae_config",
    "save_sae",
    "site_activations",
    "splice_sae",
    "stream_activations",
    "summarize_features",
    "top_features",
    "train_sae",
]
