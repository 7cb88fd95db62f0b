"""What every sparse autoencoder shares: SAELens's parameter names and shapes, encoding, decoding and the
decoder's geometry. Each architecture (``architectures/``) is a subclass that says how pre-activations become
features (``activate``), which extra loss terms it trains with (``auxiliary_losses``) and what it must do after
each optimizer step (``after_step``).

    pre = (x − b_dec) W_enc + b_enc          W_enc (d_in, d_sae), b_enc (d_sae,)
    f   = σ(pre)                             σ: the architecture's activation rule
    x̂   = f W_dec + b_dec                    W_dec (d_sae, d_in), b_dec (d_in,)
"""

import abc
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .config import SAEConfig


@dataclass
class SAEOutput:
    reconstruction: torch.Tensor  # (N, d_in)
    features: torch.Tensor  # (N, d_sae), the sparse code f
    pre_activations: torch.Tensor  # (N, d_sae)


SPARSITY_TERMS = ("l1", "l0")
"""Auxiliary loss terms that penalise density; the others (AuxK) train dead latents."""


@dataclass
class SAELoss:
    """One batch's loss, term by term: total = reconstruction + sparsity + auxiliary."""

    reconstruction: torch.Tensor
    """‖x − x̂‖², summed over d_in, mean over tokens."""
    sparsity: torch.Tensor
    """The architecture's density penalty: λ‖f‖₁ (ReLU), λ‖f‖₀ (JumpReLU); 0 for TopK, where k bounds it."""
    auxiliary: torch.Tensor
    """Other training terms, e.g. AuxK's reconstruction of the error by dead latents."""
    total: torch.Tensor
    terms: dict[str, torch.Tensor]
    """Every auxiliary term by name (``l1``, ``l0``, ``aux_k``)."""
    output: SAEOutput


@dataclass(frozen=True)
class TrainingState:
    """What an auxiliary loss may depend on besides the batch."""

    progress: float
    """Fraction of training done, in [0, 1): for penalties ramped up over the first steps."""
    dead: torch.Tensor
    """(d_sae,) bool: latents that have not fired for ``dead_feature_window`` tokens."""

    def ramp(self, warmup: float) -> float:
        """A penalty's weight, rising linearly from 0 to 1 over the first ``warmup`` fraction of training."""
        return min(1.0, (self.progress + 1e-9) / warmup) if warmup else 1.0


class SparseAutoencoder(nn.Module, abc.ABC):
    architecture: ClassVar[str]
    config_class: ClassVar[type[SAEConfig]]

    def __init__(self, config: SAEConfig, *, seed: int = 0) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config
        d_in, d_sae = config.d_in, config.d_sae
        generator = torch.Generator().manual_seed(seed)
        decoder = torch.randn(d_sae, d_in, generator=generator)
        decoder /= decoder.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(decoder)
        self.W_enc = nn.Parameter(
            decoder.T.clone()
        )  # tied initialisation (Conerly et al. 2024; Gao et al. 2024)
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    # --- what an architecture defines ----------------------------------------------------------------------

    @abc.abstractmethod
    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """Pre-activations (N, d_sae) -> features (N, d_sae)."""

    def auxiliary_losses(
        self, x: torch.Tensor, out: SAEOutput, state: TrainingState
    ) -> dict[str, torch.Tensor]:
        """Weighted extra loss terms, by name, added to the reconstruction loss while training."""
        return {}

    @torch.no_grad()
    def after_step(self) -> None:
        """Anything the architecture keeps true after each optimizer step (e.g. positive thresholds)."""

    @property
    def threshold(self) -> torch.Tensor | None:
        """θ per latent for architectures that gate on one (saved as SAELens's ``threshold``)."""
        return None

    def load_threshold(self, threshold: torch.Tensor) -> None:
        raise ValueError(f"a {self.architecture} SAE has no threshold to load")

    # --- shared ---------------------------------------------------------------------------------------------

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self.b_dec if self.config.apply_b_dec_to_input else x
        return centred @ self.W_enc + self.b_enc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.pre_activations(x))

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> SAEOutput:
        pre = self.pre_activations(x)
        features = self.activate(pre)
        return SAEOutput(self.decode(features), features, pre)

    def loss(self, x: torch.Tensor, state: TrainingState | None = None) -> SAELoss:
        """The training loss on ``x`` (N, d_in), term by term. ``state`` defaults to the end of training
        (penalties at full weight) with no dead latents."""
        out = self(x)
        state = state or TrainingState(1.0, torch.zeros(self.config.d_sae, dtype=torch.bool, device=x.device))
        reconstruction = (out.reconstruction - x).pow(2).sum(-1).mean()
        terms = self.auxiliary_losses(x, out, state)
        zero = reconstruction.new_zeros(())
        sparsity = sum((v for k, v in terms.items() if k in SPARSITY_TERMS), zero)
        auxiliary = sum((v for k, v in terms.items() if k not in SPARSITY_TERMS), zero)
        return SAELoss(reconstruction, sparsity, auxiliary, reconstruction + sparsity + auxiliary, terms, out)

    @staticmethod
    def topk_codes(pre: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k largest pre-activations per token, through a ReLU, and their latent indices: (N, k) each."""
        values, indices = pre.topk(k, dim=-1)
        return torch.relu(values), indices

    def decode_sparse(self, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Σ_j values_j · W_dec[indices_j] without the bias, touching only the k active rows (embedding_bag):
        ~6x faster than the dense (N, d_sae) @ W_dec product for k = 32 of 4,608 latents, backward included."""
        flat = torch.nn.functional.embedding_bag(
            indices.reshape(-1, indices.shape[-1]),
            self.W_dec,
            per_sample_weights=values.reshape(-1, values.shape[-1]),
            mode="sum",
        )
        return flat.view(*indices.shape[:-1], self.config.d_in)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)

    @torch.no_grad()
    def remove_parallel_decoder_grad(self) -> None:
        """Project out of ∇W_dec the component along each (unit) decoder row: the step then only rotates it."""
        if self.W_dec.grad is not None:
            along = (self.W_dec.grad * self.W_dec).sum(1, keepdim=True)
            self.W_dec.grad -= along * self.W_dec

    @torch.no_grad()
    def fold_input_scale(self, scale: float) -> None:
        """Turn an SAE trained on s·x into one that reads x and reconstructs x (same codes):
        W_enc ← s W_enc, b_dec ← b_dec / s, W_dec ← W_dec / s; thresholds are unchanged."""
        self.W_enc *= scale
        self.b_dec /= scale
        self.W_dec /= scale

    def feature_direction(self, index: int) -> torch.Tensor:
        """The decoder row of latent ``index``: what the feature writes into the activation, (d_in,)."""
        if not 0 <= index < self.config.d_sae:
            raise IndexError(
                f"feature {index} does not exist: this SAE has latents 0..{self.config.d_sae - 1}"
            )
        return self.W_dec[index].detach()
