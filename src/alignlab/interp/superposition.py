"""Toy models of superposition (Elhage et al. 2022).

n sparse features, each zero with probability S (the sparsity) and uniform on [0, 1] otherwise, are squeezed
through m < n hidden dimensions and read back out:

    h = W x,        x̂ = ReLU(Wᵀ h + b),        L = E Σ_i I_i (x_i − x̂_i)²,        W ∈ R^{m×n}

Dense features get at most m dedicated directions; as they grow sparse the model packs more than m of them
into the same space — superposition — at the cost of interference it can afford because features rarely
co-occur.
"""

from dataclasses import dataclass

import torch
from torch import nn


def sparse_features(
    n_samples: int, n_features: int, sparsity: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """(n_samples, n_features): each entry 0 with probability ``sparsity`` (scalar or per feature), else U[0, 1]."""
    values = torch.rand(n_samples, n_features, generator=generator)
    present = torch.rand(n_samples, n_features, generator=generator) >= sparsity
    return values * present


class ToySuperpositionModel(nn.Module):
    def __init__(self, n_features: int, n_hidden: int, *, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_hidden, n_features), generator=generator))
        self.b = nn.Parameter(torch.zeros(n_features))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x) @ self.W + self.b)


def train_toy_model(
    n_features: int,
    n_hidden: int,
    sparsity: float,
    importance: torch.Tensor,
    *,
    steps: int = 2000,
    batch_size: int = 1024,
    lr: float = 1e-2,
    seed: int = 0,
) -> ToySuperpositionModel:
    """Fit one toy model with Adam on fresh samples each step, as in the paper's notebooks."""
    generator = torch.Generator().manual_seed(seed)
    model = ToySuperpositionModel(n_features, n_hidden, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x = sparse_features(batch_size, n_features, sparsity, generator)
        loss = (importance * (x - model(x)).pow(2)).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model


@dataclass(frozen=True)
class Representation:
    norms: list[float]  # ‖W_i‖ per feature: ≈1 represented, ≈0 dropped
    superposition: list[float]  # Σ_{j≠i} (Ŵ_i · W_j)²: 0 for a feature with a dedicated direction
    n_represented: int  # features with ‖W_i‖ > 0.5
    dimensions_per_feature: float  # m / ‖W‖_F² (Elhage's "feature dimensionality" summary)


@torch.no_grad()
def representation(model: ToySuperpositionModel, threshold: float = 0.5) -> Representation:
    W = model.W  # (m, n)
    norms = W.norm(dim=0)
    unit = W / norms.clamp_min(1e-8)
    overlap = (unit.T @ W).pow(2)  # (n, n): (Ŵ_i · W_j)²
    interference = overlap.sum(1) - overlap.diagonal()
    return Representation(
        norms=norms.tolist(),
        superposition=interference.tolist(),
        n_represented=int((norms > threshold).sum()),
        dimensions_per_feature=W.shape[0] / W.pow(2).sum().item(),
    )


def classify_two_feature_phase(model: ToySuperpositionModel, threshold: float = 0.5) -> str:
    """n = 2 features through m = 1 dimension: which of the paper's three phases the extra feature
    (index 1) is in — 'not represented', 'dedicated' (it has the dimension, feature 0 dropped) or
    'superposition' (both share it, antipodally)."""
    norm_0, norm_1 = (abs(v) for v in model.W[0].tolist())
    if norm_1 < threshold:
        return "not represented"
    if norm_0 < threshold:
        return "dedicated"
    return "superposition"
