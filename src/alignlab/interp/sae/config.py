"""What every sparse autoencoder shares in its config; each architecture's own fields live in its module
(``architectures/``), in a subclass of ``SAEConfig``. ``sae_config(architecture, **fields)`` builds the right
one and refuses fields the architecture does not have."""

from typing import Any

from pydantic import model_validator

from ...config import Count, FrozenConfig, LearningRate, OpenProbability, PositiveFloat, Probability


class SAEConfig(FrozenConfig):
    architecture: str
    """The registered architecture (``SAE_ARCHITECTURES``); each narrows this to its own name."""
    d_in: Count
    """Width of the activations the SAE reads (d_model for a residual-stream site)."""
    d_sae: Count | None = None
    """Latent features; None means ``expansion · d_in``. Any width works, not only multiples of d_in."""
    expansion: Count = 8
    steps: Count = 1000
    """Optimizer steps; kept in the saved config, so a saved SAE records how it was trained."""
    batch_size: Count = 1024
    """Tokens per optimizer step: ``train_sae`` draws batches of this size from a store, and checks batches
    it is handed."""
    lr: LearningRate = 3e-4
    lr_warmup: Probability = 0.02
    """Fraction of steps with a linearly rising learning rate."""
    lr_decay: Probability = 0.2
    """Fraction of steps, at the end, over which the learning rate falls linearly to zero."""
    grad_clip: PositiveFloat = 1.0
    dead_feature_window: Count = 100_000
    """A latent that has not fired for this many training tokens counts as dead (feeds AuxK)."""
    dense_threshold: OpenProbability = 0.1
    """A latent firing on more than this fraction of tokens counts as dense."""
    normalize_activations: bool = True
    """Train on activations scaled so that E‖x‖ = √d_in (SAELens's expected_average_only_in); the scale is
    folded into the weights afterwards, so the trained SAE reads raw activations."""
    unit_norm_decoder: bool = True
    """Keep each decoder row at unit norm (and project out the gradient along it) after every step."""
    apply_b_dec_to_input: bool = True
    """Subtract the decoder bias before encoding, as SAELens does by default (Gemma Scope's SAEs do not)."""

    @model_validator(mode="before")
    @classmethod
    def _width(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("d_sae") is None and "d_in" in values:
            values = {**values, "d_sae": values["d_in"] * values.get("expansion", 8)}
        return values

    @model_validator(mode="after")
    def _schedule(self) -> "SAEConfig":
        if self.lr_warmup + self.lr_decay > 1:
            raise ValueError(f"lr_warmup ({self.lr_warmup}) + lr_decay ({self.lr_decay}) must be at most 1")
        return self
