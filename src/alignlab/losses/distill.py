"""Knowledge distillation: Hinton's soft targets for classifiers, token-level KL for sequences."""

from typing import Literal

import torch
import torch.nn.functional as F

from .base import LossOutput, check_same_shape, check_shapes, masked_mean


def hinton_distillation(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> LossOutput:
    """Hinton et al. 2015:

        L = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y).

    The T^2 factor keeps the soft-target gradients' scale independent of T (they shrink as 1/T^2).
    logits: (N, C); labels: (N,) or None (then alpha is taken as 1).
    """
    check_shapes("hinton_distillation", student_logits=(student_logits, 2), teacher_logits=(teacher_logits, 2),
                 **({} if labels is None else {"labels": (labels, 1)}))  # fmt: skip
    check_same_shape("hinton_distillation", student_logits=student_logits, teacher_logits=teacher_logits)
    soft = (
        F.kl_div(
            F.log_softmax(student_logits / temperature, dim=-1),
            F.log_softmax(teacher_logits / temperature, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
        * temperature**2
    )
    if labels is None:
        return LossOutput(soft, {"soft_loss": soft.item()})
    hard = F.cross_entropy(student_logits, labels)
    loss = alpha * soft + (1 - alpha) * hard
    return LossOutput(loss, {"soft_loss": soft.item(), "hard_loss": hard.item()})


def token_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    *,
    direction: Literal["forward", "reverse"] = "forward",
    temperature: float = 1.0,
) -> LossOutput:
    """Per-token KL between teacher p and student q over the vocabulary, averaged over masked tokens:

        forward  KL(p || q) = sum_v p log(p / q)   mass-covering (classic sequence-level distillation)
        reverse  KL(q || p) = sum_v q log(q / p)   mode-seeking (MiniLLM; Gu et al. 2024)

    logits: (B, T, V); mask: (B, T).
    """
    check_shapes(
        "token_kl", student_logits=(student_logits, 3), teacher_logits=(teacher_logits, 3), mask=(mask, 2)
    )
    check_same_shape("token_kl", student_logits=student_logits, teacher_logits=teacher_logits)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    log_p = F.log_softmax(teacher_logits / temperature, dim=-1)
    if direction == "forward":
        per_token = (log_p.exp() * (log_p - log_q)).sum(-1)
    elif direction == "reverse":
        per_token = (log_q.exp() * (log_q - log_p)).sum(-1)
    else:
        raise ValueError(f"unknown direction {direction!r}; use forward or reverse")
    loss = masked_mean(per_token, mask)
    return LossOutput(loss, {f"{direction}_kl": loss.item()})
