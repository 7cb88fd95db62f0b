"""Weak-to-strong generalisation (Burns et al. 2023): train a strong student on a weak supervisor's labels
and measure how much of the gap to the strong ceiling it recovers,

    PGR = (acc(weak → strong) − acc(weak)) / (acc(strong ceiling) − acc(weak)).

The auxiliary confidence loss lets the student trust its own hardened predictions more over training:

    L = CE(p, (1 − α) · y_weak + α · ŷ),   ŷ = 1[p_1 ≥ t],  α = α_max · min(1, step / (warmup · steps)),

where t is the batch quantile of p_1 that makes ŷ's positive share equal the weak labels' (class-balance
hardening). openai/weak-to-strong ramps α with the raw step fraction during warm-up; here it ramps linearly
to α_max over the warm-up, as their paper describes.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def confidence_loss(logits: torch.Tensor, weak_probs: torch.Tensor, alpha: float) -> torch.Tensor:
    """Binary task: ``logits`` (batch, 2), ``weak_probs`` (batch,) the weak supervisor's P(class 1)."""
    p1 = logits.softmax(-1)[:, 1].detach()
    positive_share = weak_probs.mean().clamp(0, 1)
    threshold = torch.quantile(p1, 1 - positive_share)
    hard = (p1 >= threshold).float()
    target1 = (1 - alpha) * weak_probs + alpha * hard
    return F.cross_entropy(logits, torch.stack([1 - target1, target1], dim=-1))


@dataclass
class StudentConfig:
    hidden: int = 256
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    aux_alpha: float = 0.0
    """α_max of the confidence loss; 0 is plain cross-entropy on the weak labels."""
    warmup: float = 0.1


def train_student(
    features: torch.Tensor, soft_labels: torch.Tensor, cfg: StudentConfig, seed: int = 0
) -> torch.nn.Module:
    """An MLP trained on (features, P(class 1)) with the loss above."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(features.shape[1], cfg.hidden), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden, 2)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = -(-len(features) // cfg.batch_size)
    total, step = cfg.epochs * steps_per_epoch, 0
    for _ in range(cfg.epochs):
        for batch in torch.randperm(len(features), generator=generator).split(cfg.batch_size):
            alpha = cfg.aux_alpha * min(1.0, step / max(1, cfg.warmup * total))
            loss = confidence_loss(model(features[batch]), soft_labels[batch], alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    return model.eval()


def accuracy(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(features).argmax(-1) == labels).float().mean().item()


def performance_gap_recovered(weak: float, weak_to_strong: float, ceiling: float) -> float:
    """PGR; NaN when the ceiling is no better than the weak supervisor (no gap to recover)."""
    gap = ceiling - weak
    return (weak_to_strong - weak) / gap if gap > 0 else float("nan")
