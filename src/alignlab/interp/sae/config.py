"""What defines a sparse autoencoder and how it is trained, validated in one place."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Architecture = Literal["relu", "topk", "batchtopk", "jumprelu"]


class SAEConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    d_in: int
    """Width of the activations the SAE reads (d_model for a residual-stream site)."""
    expansion: int = 8
    """d_sae = expansion · d_in latent features."""
    architecture: Architecture = "topk"
    """relu: ReLU + L1 weighted by decoder norms (Anthropic 2024); topk: exactly k active per token, AuxK for dead
    latents (Gao et al. 2024); batchtopk: k · batch active per batch, a learned threshold at inference
    (Bussmann et al. 2024); jumprelu: per-feature thresholds trained with an L0 penalty and straight-through
    estimators (Rajamanoharan et al. 2024)."""
    l1_coefficient: float = 5.0
    """relu: weight of Σ_i f_i ‖W_dec,i‖, ramped up linearly over the first ``sparsity_warmup`` of training."""
    l0_coefficient: float = 1.0
    """jumprelu: weight of the L0 penalty Σ_i H(pre_i − θ_i), ramped like the L1 coefficient."""
    sparsity_warmup: float = 0.05
    k: int = 32
    """topk/batchtopk: active latents per token (on average, for batchtopk)."""
    aux_k: int | None = None
    """topk/batchtopk: dead latents used to model the residual error (default d_in // 2)."""
    aux_coefficient: float = 1 / 32
    jumprelu_bandwidth: float = 0.001
    """jumprelu: width ε of the rectangle kernel in the straight-through estimator."""
    jumprelu_init_threshold: float = 0.001
    batchtopk_threshold_rate: float = 0.01
    """batchtopk: EMA rate of the inference threshold (the smallest activation kept in each batch)."""
    dead_feature_window: int = 100_000
    """A latent that has not fired for this many training tokens counts as dead (feeds AuxK)."""
    dense_threshold: float = 0.1
    """A latent firing on more than this fraction of tokens counts as dense."""
    lr: float = 3e-4
    lr_warmup: float = 0.02
    """Fraction of steps with a linearly rising learning rate; the last 20% decay linearly to zero."""
    batch_size: int = 1024
    """Tokens per optimizer step."""
    grad_clip: float = 1.0
    normalize_activations: bool = True
    """Train on activations scaled so that E‖x‖ = √d_in (SAELens's expected_average_only_in); the scale is
    folded into the weights afterwards, so the trained SAE reads raw activations."""
    unit_norm_decoder: bool = True
    """Keep each decoder row at unit norm (and project out the gradient along it) after every step."""

    @property
    def d_sae(self) -> int:
        return self.d_in * self.expansion

    @property
    def resolved_aux_k(self) -> int:
        return self.aux_k if self.aux_k is not None else max(1, self.d_in // 2)

    @model_validator(mode="after")
    def _consistent(self) -> "SAEConfig":
        if self.d_in < 1 or self.expansion < 1:
            raise ValueError(f"d_in ({self.d_in}) and expansion ({self.expansion}) must be positive")
        if self.architecture in ("topk", "batchtopk") and not 0 < self.k <= self.d_sae:
            raise ValueError(f"k ({self.k}) must be between 1 and d_sae ({self.d_sae})")
        if not 0 <= self.lr_warmup < 0.8 or not 0 <= self.sparsity_warmup <= 1:
            raise ValueError("lr_warmup must be in [0, 0.8) and sparsity_warmup in [0, 1]")
        return self
