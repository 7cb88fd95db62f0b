"""The step verifier: P(solution correct) as a noisy AND over its written steps, trained from whole-solution
correctness alone on the shared training loop."""

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...config import Count, FrozenConfig, LearningRate, NonNegativeFloat, OpenProbability
from .fields import STEP_FEATURES, encode_solutions
from .solutions import Solution


class StepVerifier(nn.Module):
    """P(solution correct) = Π_steps σ(f(step fields)), f an MLP: a noisy AND over steps, which it learns
    from whole-solution labels alone."""

    def __init__(self, hidden: int = 128, layers: int = 2):
        super().__init__()
        sizes = [STEP_FEATURES] + [hidden] * layers
        blocks = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.GELU())]
        self.mlp = nn.Sequential(*blocks, nn.Linear(sizes[-1], 1))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log P(correct), (N,)."""
        step_logp = F.logsigmoid(self.mlp(features).squeeze(-1))
        return (step_logp * mask).sum(-1)


def log_complement(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 − P) from log P ≤ 0, stable near P = 1."""
    return torch.log(-torch.expm1(log_p.clamp(max=-1e-6)))


def log_odds(log_p: torch.Tensor) -> torch.Tensor:
    """log P − log(1 − P)."""
    return log_p - log_complement(log_p)


class VerifierConfig(FrozenConfig):
    hidden: Count = 128
    layers: Count = 2
    max_steps: Count = 4000
    """At most this many steps; training stops earlier on held-out accuracy (below)."""
    batch_size: Count = 256
    lr: LearningRate = 3e-3
    weight_decay: NonNegativeFloat = 1e-4
    validation_fraction: OpenProbability = 0.1
    """Share of the solutions held out: training stops when the verifier's balanced accuracy on them (the mean
    of its accuracy on correct and on incorrect ones) has not improved for ``patience`` steps (checked every
    ``eval_every``), and the best weights are kept. (The held-out loss was tried first: it bottoms out while
    accuracy still rises, as the verifier grows confident, and stopped it early.)"""
    eval_every: Count = 100
    patience: Count = 500


def _balanced_nll(verifier: StepVerifier, features, mask, labels, weights) -> torch.Tensor:
    log_p = verifier(features, mask)
    nll = -(labels * log_p + (1 - labels) * log_complement(log_p))
    return (weights * nll).mean()


def train_step_verifier(solutions: Sequence[Solution], config: VerifierConfig, *, seed: int) -> StepVerifier:
    """A fresh verifier fit to ``solutions``' correctness by binary cross-entropy on log P(correct), with the
    two classes weighted equally (the paper balances correct and incorrect samples), on the shared training
    loop; how long it trains is decided by its own held-out loss, never by the game it is used in."""
    from ...training import EarlyStopping, LoopHooks, LossOutput, RunOptions, TrainConfig, train

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        verifier = StepVerifier(config.hidden, config.layers)
    order = torch.randperm(len(solutions), generator=torch.Generator().manual_seed(seed)).tolist()
    cut = max(1, int(len(solutions) * (1 - config.validation_fraction)))
    features, mask = encode_solutions(solutions)
    labels = torch.tensor([s.correct for s in solutions], dtype=torch.float32)
    positive = labels[order[:cut]].mean().clamp(1e-3, 1 - 1e-3)
    weights = torch.where(labels.bool(), 0.5 / positive, 0.5 / (1 - positive))
    fit, held_out = torch.tensor(order[:cut]), torch.tensor(order[cut:] or order[:1])
    generator = torch.Generator().manual_seed(seed)
    batches = (
        fit[torch.randint(len(fit), (min(config.batch_size, len(fit)),), generator=generator)]
        for _ in range(config.max_steps)
    )

    def step(model, idx, progress):
        return LossOutput(_balanced_nll(model, features[idx], mask[idx], labels[idx], weights[idx]))

    def balanced_error(model) -> float:
        accepted = model(features[held_out], mask[held_out]) > math.log(0.5)
        right = labels[held_out].bool()
        return (
            1
            - ((accepted[right].float().mean() + (~accepted[~right]).float().mean()) / 2)
            .nan_to_num(0.5)
            .item()
        )

    stopper = EarlyStopping(balanced_error, every=config.eval_every, patience=config.patience)
    train(
        verifier, step, batches,
        TrainConfig(steps=config.max_steps, lr=config.lr, weight_decay=config.weight_decay, schedule="constant",
                    grad_clip=None, log_every=config.max_steps),
        RunOptions(seed=seed), hooks=LoopHooks(after_step=stopper),
    )  # fmt: skip
    verifier.trained_steps = stopper.best_step
    return stopper.restore(verifier).eval()


@torch.no_grad()
def verifier_scores(verifier: StepVerifier, solutions: Sequence[Solution]) -> torch.Tensor:
    """The verifier's log-odds that each solution is correct, (N,); > 0 means it accepts."""
    return log_odds(verifier(*encode_solutions(solutions)))
