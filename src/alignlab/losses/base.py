"""What every loss returns, and the masked reductions they share."""

from dataclasses import dataclass, field

import torch


@dataclass
class LossOutput:
    """A scalar loss to differentiate, and detached floats to log."""

    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (over everything, or along ``dim``)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)
