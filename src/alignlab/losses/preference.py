"""Direct preference optimisation and its variants: pure functions of sequence log-probabilities.

Notation for a pair (x, y_w, y_l): the log-ratios of the policy to the reference,
    rho_w = log pi(y_w|x) - log pi_ref(y_w|x),   rho_l = log pi(y_l|x) - log pi_ref(y_l|x),
and h = rho_w - rho_l. Inputs are (B,) summed completion log-probabilities. We follow the papers: IPO
uses the same summed log-probabilities (TRL averages them per token for IPO; pass per-token means if you
want TRL's behaviour). At initialisation (pi = pi_ref, h = 0) DPO's loss is ln 2.
"""

import functools
import inspect
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .base import LossOutput, check_same_shape, check_shapes

SUMMED = "pass (B,) sequence log-probabilities summed over the completion's tokens (training.batching.sequence_logps)"


def implicit_reward(policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """r(x, y) = beta * log(pi(y|x) / pi_ref(y|x)): the reward DPO's policy implicitly optimises."""
    return beta * (policy_logps - reference_logps)


def _pair_metrics(h: torch.Tensor, rho_w: torch.Tensor, rho_l: torch.Tensor, beta: float) -> dict[str, float]:
    return {
        "reward_accuracy": (h > 0).float().mean().item(),
        "reward_margin": (beta * h).mean().item(),
        "chosen_reward": (beta * rho_w).mean().item(),
        "rejected_reward": (beta * rho_l).mean().item(),
    }


def _log_ratios(
    pc, pr, rc, rr, loss: str = "DPO-family loss"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    check_shapes(loss, SUMMED, policy_chosen=(pc, 1), policy_rejected=(pr, 1), reference_chosen=(rc, 1),
                 reference_rejected=(rr, 1))  # fmt: skip
    check_same_shape(loss, policy_chosen=pc, policy_rejected=pr, reference_chosen=rc, reference_rejected=rr)
    rho_w, rho_l = pc - rc, pr - rr
    return rho_w, rho_l, rho_w - rho_l


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
) -> LossOutput:
    """DPO (Rafailov et al. 2023):  L = -log sigma(beta h).

    With ``label_smoothing`` eps > 0, conservative DPO (cDPO; Mitchell 2023), which assumes each label is
    flipped with probability eps:  L = -(1 - eps) log sigma(beta h) - eps log sigma(-beta h).
    """
    rho_w, rho_l, h = _log_ratios(policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    losses = -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    return LossOutput(losses.mean(), _pair_metrics(h, rho_w, rho_l, beta))


def robust_dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.1,
) -> LossOutput:
    """Robust DPO (rDPO; Chowdhury et al. 2024), an unbiased loss under label-flip rate eps < 1/2:

    L = [(1 - eps) * (-log sigma(beta h)) - eps * (-log sigma(-beta h))] / (1 - 2 eps).
    """
    eps = label_smoothing
    if not 0 <= eps < 0.5:
        raise ValueError("robust DPO needs 0 <= label_smoothing < 0.5")
    rho_w, rho_l, h = _log_ratios(policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    losses = ((1 - eps) * -F.logsigmoid(beta * h) - eps * -F.logsigmoid(-beta * h)) / (1 - 2 * eps)
    return LossOutput(losses.mean(), _pair_metrics(h, rho_w, rho_l, beta))


def ipo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
) -> LossOutput:
    """IPO (Azar et al. 2023):  L = (h - 1/(2 beta))^2, a squared loss that regresses the log-ratio gap to a
    finite target instead of pushing it to infinity. ``beta`` here is the paper's tau."""
    rho_w, rho_l, h = _log_ratios(policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    return LossOutput(((h - 1 / (2 * beta)) ** 2).mean(), _pair_metrics(h, rho_w, rho_l, beta))


def hinge_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
) -> LossOutput:
    """SLiC-style hinge (Zhao et al. 2023):  L = max(0, 1 - beta h)."""
    rho_w, rho_l, h = _log_ratios(policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    return LossOutput(F.relu(1 - beta * h).mean(), _pair_metrics(h, rho_w, rho_l, beta))


def dr_dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    beta_prime: float = 1.0,
) -> LossOutput:
    """Dr. DPO (Wu et al., ICLR 2025, Distributionally Robustifying DPO): a soft minimum of the per-pair DPO
    losses over the batch, which down-weights pairs the model finds implausible (likely mislabelled):

        L = -beta' * log( (1/B) sum_i exp(-l_i / beta') ),   l_i = -log sigma(beta h_i).

    As beta' -> infinity it becomes DPO's mean; the gradient weights pair i by softmax(-l / beta')_i * B.
    """
    rho_w, rho_l, h = _log_ratios(policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    losses = -F.logsigmoid(beta * h)
    loss = -beta_prime * (torch.logsumexp(-losses / beta_prime, dim=0) - math.log(losses.numel()))
    return LossOutput(loss, {**_pair_metrics(h, rho_w, rho_l, beta), "dpo_loss": losses.mean().item()})


def kto_loss(
    policy_logps: torch.Tensor,
    reference_logps: torch.Tensor,
    desirable: torch.Tensor,
    kl_estimate: torch.Tensor,
    *,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> LossOutput:
    """KTO (Ethayarajh et al. 2024), for unpaired completions labelled desirable or not:

        r = log pi(y|x) - log pi_ref(y|x),   z = max(0, KL estimate)  (no gradient)
        L = lambda_D (1 - sigma(beta (r - z)))   if y is desirable
            lambda_U (1 - sigma(beta (z - r)))   otherwise.

    policy_logps, reference_logps: (B,); desirable: (B,) bool; kl_estimate: a scalar, in the paper the
    batch mean of log-ratios on mismatched (x, y') pairs.
    """
    check_shapes("kto_loss", SUMMED, policy_logps=(policy_logps, 1), reference_logps=(reference_logps, 1),
                 desirable=(desirable, 1), kl_estimate=(kl_estimate, 0))  # fmt: skip
    r = policy_logps - reference_logps
    z = kl_estimate.detach().clamp(min=0)
    losses = torch.where(
        desirable,
        desirable_weight * (1 - torch.sigmoid(beta * (r - z))),
        undesirable_weight * (1 - torch.sigmoid(beta * (z - r))),
    )
    metrics = {"kl_estimate": z.item()}
    if desirable.any():
        metrics["desirable_reward"] = (beta * r[desirable]).mean().item()
    if (~desirable).any():
        metrics["undesirable_reward"] = (beta * r[~desirable]).mean().item()
    return LossOutput(losses.mean(), metrics)


PAIRWISE_LOSSES = {
    "sigmoid": dpo_loss,
    "robust": robust_dpo_loss,
    "ipo": ipo_loss,
    "hinge": hinge_loss,
    "dr_dpo": dr_dpo_loss,
}
"""The DPO family on (chosen, rejected) pairs, by name. KTO takes unpaired data and is separate. A new variant
is a function above with the same four tensor arguments, registered here."""

PairwiseLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], LossOutput]
"""(policy chosen, policy rejected, reference chosen, reference rejected) log-probabilities, (B,) each ->
LossOutput: what ``train_dpo`` optimises."""


def pairwise_loss(name: str, **hyperparameters: float) -> PairwiseLoss:
    """A registered DPO-family loss with its hyper-parameters bound, e.g. ``pairwise_loss("ipo", beta=0.1)``;
    an unknown name or keyword is an error that lists the valid ones."""
    if name not in PAIRWISE_LOSSES:
        raise ValueError(f"unknown pairwise loss {name!r}; losses: {', '.join(PAIRWISE_LOSSES)}")
    fn = PAIRWISE_LOSSES[name]
    allowed = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(hyperparameters) - set(allowed))
    if unknown:
        raise ValueError(f"{name} takes {', '.join(allowed)}; not {', '.join(unknown)}")
    for key, value in hyperparameters.items():
        if not math.isfinite(value) or (key in ("beta", "beta_prime") and value <= 0):
            raise ValueError(
                f"{name}: {key} must be a finite{' positive' if key.startswith('beta') else ''} number, got {value}"
            )
    return functools.partial(fn, **hyperparameters)
