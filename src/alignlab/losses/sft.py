"""Supervised fine-tuning: negative log-likelihood of the completion tokens only."""

import torch

from .base import LossOutput, check_same_shape, check_shapes, masked_mean


def masked_nll(token_logps: torch.Tensor, mask: torch.Tensor) -> LossOutput:
    """L = -(1/|M|) sum_{t in M} log p(x_t | x_<t), with M the completion tokens of the whole batch.

    token_logps: (B, T) log-probabilities of the target tokens; mask: (B, T), 1 on completion tokens.
    Averaging over all completion tokens of the batch (not per sequence) follows TRL's SFT trainer.
    """
    check_shapes("masked_nll", token_logps=(token_logps, 2), mask=(mask, 2))
    check_same_shape("masked_nll", token_logps=token_logps, mask=mask)
    loss = -masked_mean(token_logps, mask)
    return LossOutput(loss, {"nll": loss.item(), "completion_tokens": float(mask.sum())})
