"""Offline preference training: the DPO family (sigmoid, robust, IPO, hinge, Dr. DPO) and KTO.

Reference log-probabilities are computed once, before training, and stored with each batch (TRL's
``precompute_ref_log_probs``): the reference never runs again during training.
"""

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..config import Count, FrozenConfig, NonNegativeFloat, PositiveFloat
from ..data.formats import CompletionExample, PreferenceExample
from ..losses import LossOutput, PairwiseLoss, kto_loss
from .batching import chunks, completion_batch, epochs, preference_batch, sequence_logps
from .loop import Progress, RunOptions, StepFn, TrainConfig, train
from .reference import Reference


def dpo_step(loss: PairwiseLoss) -> StepFn:
    """Score the batch's chosen and rejected completions and apply ``loss`` (e.g. ``pairwise_loss("ipo",
    beta=0.1)`` or any function of the four (B,) log-probability tensors)."""

    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
        chosen, rejected = sequence_logps(model, batch).chunk(2)
        ref_chosen, ref_rejected = batch["reference_logps"].chunk(2)
        return loss(chosen, rejected, ref_chosen, ref_rejected)

    return step


def _with_reference_logps(batches: list[dict[str, torch.Tensor]], reference: Reference, device) -> None:
    for batch in batches:
        on_device = {k: v.to(device) for k, v in batch.items()}
        batch["reference_logps"] = reference(lambda m, b=on_device: sequence_logps(m, b)).cpu()


def train_dpo(
    policy: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[PreferenceExample],
    loss: PairwiseLoss,
    config: TrainConfig,
    *,
    batch_size: int = 8,
    reference: torch.nn.Module | None = None,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    """Train ``policy`` in place on preference pairs with a DPO-family ``loss`` (``pairwise_loss(name,
    **hyper-parameters)``, or your own function of the four log-probability tensors)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batches = [preference_batch(tokenizer, chunk, chat) for chunk in chunks(list(examples), batch_size)]
    _with_reference_logps(batches, Reference(policy, reference), options.device)
    return train(policy, dpo_step(loss), epochs(batches, seed=options.seed), config, options)


class KTOConfig(FrozenConfig):
    beta: PositiveFloat = 0.1
    desirable_weight: NonNegativeFloat = 1.0
    undesirable_weight: NonNegativeFloat = 1.0
    batch_size: Count = 8


def kto_step(config: KTOConfig) -> StepFn:
    """KTO with the paper's KL estimate: the log-ratio on mismatched pairs (each prompt with the next
    row's completion), averaged over the batch, without gradient."""

    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
        logps = sequence_logps(model, batch)
        with torch.no_grad():
            mismatched = {
                k: batch[f"mismatched_{k}"] for k in ("input_ids", "attention_mask", "completion_mask")
            }
            kl = (sequence_logps(model, mismatched) - batch["reference_mismatched_logps"]).mean()
        return kto_loss(
            logps,
            batch["reference_logps"],
            batch["label"],
            kl,
            beta=config.beta,
            desirable_weight=config.desirable_weight,
            undesirable_weight=config.undesirable_weight,
        )

    return step


def train_kto(
    policy: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[CompletionExample],
    kto: KTOConfig,
    config: TrainConfig,
    *,
    reference: torch.nn.Module | None = None,
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    """Train ``policy`` in place on completions labelled desirable / undesirable."""
    ref = Reference(policy, reference)
    batches = []
    for chunk in chunks(list(examples), kto.batch_size):
        batch = completion_batch(tokenizer, chunk, chat)
        shifted = [
            CompletionExample(e.prompt, chunk[(i + 1) % len(chunk)].completion) for i, e in enumerate(chunk)
        ]
        mismatched = completion_batch(tokenizer, shifted, chat)
        batch.update({f"mismatched_{k}": v for k, v in mismatched.items()})
        batches.append(batch)
    for batch in batches:
        on_device = {k: v.to(options.device) for k, v in batch.items()}
        mismatched = {
            k: on_device[f"mismatched_{k}"] for k in ("input_ids", "attention_mask", "completion_mask")
        }
        batch["reference_logps"] = ref(lambda m, b=on_device: sequence_logps(m, b)).cpu()
        batch["reference_mismatched_logps"] = ref(lambda m, b=mismatched: sequence_logps(m, b)).cpu()
    return train(policy, kto_step(kto), epochs(batches, seed=options.seed), config, options)
