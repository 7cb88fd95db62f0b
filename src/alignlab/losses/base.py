"""What every loss returns, the masked reductions they share, and the shape checks that make a loss refuse
input it would otherwise broadcast into a wrong number."""

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


def check_shapes(loss: str, hint: str = "", **tensors: tuple[torch.Tensor, int]) -> None:
    """Raise if any ``name=(tensor, ndim)`` has another number of dimensions, or if the tensors disagree on
    their leading (batch) size. ``hint`` says what to pass instead."""
    sizes = {}
    for name, (tensor, ndim) in tensors.items():
        if tensor.dim() != ndim:
            raise ValueError(
                f"{loss}: {name} must have {ndim} dimension{'s' if ndim != 1 else ''}, got shape {tuple(tensor.shape)}"
                + (f"; {hint}" if hint else "")
            )
        sizes[name] = tensor.shape[0] if ndim else None
    batch = {size for size in sizes.values() if size is not None}
    if len(batch) > 1:
        shown = ", ".join(f"{name} {size}" for name, size in sizes.items())
        raise ValueError(f"{loss}: the batch sizes disagree ({shown})")


def check_same_shape(loss: str, **tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f"{loss}: shapes must match, got " + ", ".join(f"{n} {s}" for n, s in shapes.items())
        )
