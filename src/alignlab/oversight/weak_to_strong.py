"""Weak-to-strong generalisation (Burns et al. 2023): train a strong student on a weak supervisor's labels
and measure how much of the gap to the strong ceiling it recovers,

    PGR = (acc(weak → strong) − acc(weak)) / (acc(strong ceiling) − acc(weak)).

The auxiliary confidence loss lets the student trust its own hardened predictions more over training:

    L = CE(p, (1 − α) · y_weak + α · ŷ),   ŷ = 1[p_1 ≥ t],  α = α_max · min(1, step / (warmup · steps)),

where t is the batch quantile of p_1 that makes ŷ's positive share equal the weak labels' (class-balance
hardening). openai/weak-to-strong ramps α with the raw step fraction during warm-up; here it ramps linearly
to α_max over the warm-up, as their paper describes.

What makes a student "strong" is what it knew before it saw the weak labels: Burns et al.'s students are
pretrained language models. Here a student is an MLP whose trunk can be pretrained on another task
(``pretrain_trunk``) before it is fine-tuned on weak labels; a student trained from scratch is the control.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Count, FrozenConfig, LearningRate, Probability


def confidence_loss(logits: torch.Tensor, weak_probs: torch.Tensor, alpha: float) -> torch.Tensor:
    """Binary task: ``logits`` (batch, 2), ``weak_probs`` (batch,) the weak supervisor's P(class 1)."""
    p1 = logits.softmax(-1)[:, 1].detach()
    positive_share = weak_probs.mean().clamp(0, 1)
    threshold = torch.quantile(p1, 1 - positive_share)
    hard = (p1 >= threshold).float()
    target1 = (1 - alpha) * weak_probs + alpha * hard
    return F.cross_entropy(logits, torch.stack([1 - target1, target1], dim=-1))


class StudentConfig(FrozenConfig):
    hidden: Count = 256
    max_epochs: Count = 30
    """At most this many epochs; training stops earlier on the weak labels' validation loss (below)."""
    batch_size: Count = 64
    lr: LearningRate = 1e-3
    aux_alpha: Probability = 0.0
    """α_max of the confidence loss; 0 is plain cross-entropy on the weak labels."""
    warmup: Probability = 0.1
    patience_epochs: Count = 3
    """Early stopping: stop when the loss on held-out *weakly labelled* examples (the student never sees
    ground truth) has not improved for this many epochs, and keep the best weights."""
    freeze_trunk: bool = False
    """Train only the head on a given pretrained trunk (a linear probe of the student's features)."""


class Student(nn.Module):
    def __init__(self, n_features: int, hidden: int, n_classes: int = 2) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def _build(n_features: int, hidden: int, n_classes: int, seed: int) -> Student:
    with torch.random.fork_rng():  # seeded initialisation without touching the caller's random state
        torch.manual_seed(seed)
        return Student(n_features, hidden, n_classes)


def _fit(
    model: nn.Module, loss_fn, features, targets, val_features, val_targets, cfg: StudentConfig, seed: int
):
    """Mini-batch Adam on the shared loop, early-stopped on ``loss_fn`` at the end of training (the plain
    objective, with no confidence term: α = 0 there) over the validation examples, checked every epoch."""
    from ..training import EarlyStopping, LoopHooks, LossOutput, RunOptions, TrainConfig, train

    steps_per_epoch = -(-len(features) // cfg.batch_size)
    total = cfg.max_epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(seed)
    batches = (
        idx
        for _ in range(cfg.max_epochs)
        for idx in torch.randperm(len(features), generator=generator).split(cfg.batch_size)
    )

    def step(m, idx, progress):
        return LossOutput(loss_fn(m(features[idx]), targets[idx], progress.fraction))

    stopper = EarlyStopping(
        lambda m: loss_fn(m(val_features), val_targets, None).item(),
        every=steps_per_epoch, patience=cfg.patience_epochs * steps_per_epoch,
    )  # fmt: skip
    train(
        model, step, batches, TrainConfig(steps=total, lr=cfg.lr, schedule="constant", grad_clip=None, log_every=total),
        RunOptions(seed=seed), hooks=LoopHooks(after_step=stopper),
    )  # fmt: skip
    return stopper.restore(model).eval()


def pretrain_trunk(
    features: torch.Tensor,
    labels: torch.Tensor,
    cfg: StudentConfig,
    seed: int = 0,
    validation_fraction: float = 0.2,
) -> nn.Module:
    """A student trunk trained on another task (``labels``: class ids): the knowledge a strong student brings."""
    n_classes = int(labels.max()) + 1
    cut = int(len(features) * (1 - validation_fraction))
    model = _build(features.shape[1], cfg.hidden, n_classes, seed)
    model = _fit(
        model, lambda logits, y, frac: F.cross_entropy(logits, y), features[:cut], labels[:cut], features[cut:],
        labels[cut:], cfg, seed,
    )  # fmt: skip
    return model.trunk


def train_student(
    features: torch.Tensor,
    weak_labels: torch.Tensor,
    cfg: StudentConfig,
    seed: int = 0,
    *,
    trunk: nn.Module | None = None,
    validation_fraction: float = 0.2,
) -> nn.Module:
    """A binary student fine-tuned on ``weak_labels`` (P(class 1), hard or soft) with the confidence loss at
    ``cfg.aux_alpha`` (0: plain cross-entropy); its trunk starts as a copy of ``trunk`` when given. The last
    ``validation_fraction`` of the examples, weakly labelled too, decide early stopping."""
    import copy

    model = _build(features.shape[1], cfg.hidden, 2, seed)
    if trunk is not None:
        model.trunk = copy.deepcopy(trunk).requires_grad_(not cfg.freeze_trunk)
    cut = int(len(features) * (1 - validation_fraction))

    def loss_fn(logits, weak, fraction: float | None):
        """The confidence loss at training progress ``fraction``; None (validation) is plain cross-entropy."""
        if fraction is None:
            alpha = 0.0
        else:
            alpha = cfg.aux_alpha * min(1.0, fraction / cfg.warmup) if cfg.warmup > 0 else cfg.aux_alpha
        return confidence_loss(logits, weak, alpha)

    return _fit(
        model, loss_fn, features[:cut], weak_labels[:cut], features[cut:], weak_labels[cut:], cfg, seed
    )


def accuracy(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(features).argmax(-1) == labels).float().mean().item()


def performance_gap_recovered(weak: float, weak_to_strong: float, ceiling: float) -> float:
    """PGR; NaN when the ceiling is no better than the weak supervisor (no gap to recover)."""
    gap = ceiling - weak
    return (weak_to_strong - weak) / gap if gap > 0 else float("nan")
