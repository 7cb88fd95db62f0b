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
    """``n_instances`` independent toy models trained side by side, as in the paper's notebooks: instance k
    has its own W_k (m × n) and b_k, and may have its own sparsity and importance."""

    def __init__(self, n_features: int, n_hidden: int, *, n_instances: int = 1, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        W = torch.empty(n_instances, n_hidden, n_features)
        for w in W:
            nn.init.xavier_normal_(w, generator=generator)
        self.W = nn.Parameter(W)  # (K, m, n)
        self.b = nn.Parameter(torch.zeros(n_instances, n_features))  # (K, n)

    @property
    def n_instances(self) -> int:
        return self.W.shape[0]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, K, n) -> h (B, K, m)."""
        return torch.einsum("bkn,kmn->bkm", x, self.W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, K, n) -> x̂ (B, K, n)."""
        return torch.relu(torch.einsum("bkm,kmn->bkn", self.hidden(x), self.W) + self.b)


def train_toy_model(
    n_features: int,
    n_hidden: int,
    sparsity: float | torch.Tensor,
    importance: torch.Tensor,
    *,
    n_instances: int = 1,
    steps: int = 2000,
    batch_size: int = 1024,
    lr: float = 1e-2,
    seed: int = 0,
) -> ToySuperpositionModel:
    """Fit ``n_instances`` toy models with Adam on fresh samples each step, as in the paper's notebooks.

    ``sparsity``: a scalar or one value per instance (K,); ``importance``: (n,) shared or (K, n) per
    instance. Instances never interact: the loss is a sum of per-instance losses."""
    generator = torch.Generator().manual_seed(seed)
    model = ToySuperpositionModel(n_features, n_hidden, n_instances=n_instances, seed=seed)
    sparsity = torch.as_tensor(sparsity, dtype=torch.float32).expand(n_instances)[:, None]  # (K, 1)
    importance = importance.expand(n_instances, n_features)  # (K, n)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x = sparse_features(batch_size * n_instances, n_features, 0.0, generator).view(
            batch_size, n_instances, -1
        )
        x = x * (torch.rand(x.shape, generator=generator) >= sparsity)  # (B, K, n)
        loss = (importance * (x - model(x)).pow(2)).sum(-1).mean(0).sum()
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
def representation(model: ToySuperpositionModel, instance: int = 0, threshold: float = 0.5) -> Representation:
    W = model.W[instance]  # (m, n)
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


def classify_two_feature_phase(
    model: ToySuperpositionModel, instance: int = 0, threshold: float = 0.5
) -> str:
    """n = 2 features through m = 1 dimension: which of the paper's three phases the extra feature
    (index 1) is in — 'not represented', 'dedicated' (it has the dimension, feature 0 dropped) or
    'superposition' (both share it, antipodally)."""
    norm_0, norm_1 = (abs(v) for v in model.W[instance, 0].tolist())
    if norm_1 < threshold:
        return "not represented"
    if norm_0 < threshold:
        return "dedicated"
    return "superposition"


def matched_cosines(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Match each feature (rows of ``features``, (F, d)) to a distinct direction (rows of ``directions``,
    (D, d), D >= F) maximising the total cosine (the Hungarian algorithm): the matched cosines, (F,)."""
    from scipy.optimize import linear_sum_assignment

    f = features / features.norm(dim=1, keepdim=True).clamp_min(1e-8)
    d = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-8)
    cosines = (f @ d.T).numpy()
    rows, cols = linear_sum_assignment(cosines, maximize=True)
    return torch.from_numpy(cosines[rows, cols])
