"""Verifiers that read a solution step by step: process reward models (PRMs) and outcome reward models (ORMs).

Both are a causal LM's trunk with a two-class token head (transformers' ``*ForTokenClassification``), read
at the last token of every step, as TRL's PRMTrainer does; they differ only in their labels and in how a
solution's score is made from the per-step probabilities p_i = P(correct | prefix up to step i):

    PRM  each step labelled correct or not, up to the first error (Lightman et al. 2023);
         score(solution) = Π_i p_i
    ORM  every step labelled with the whole solution's final-answer correctness (Cobbe et al. 2021's
         verifier, read at step ends); score(solution) = p_last

Data is TRL's stepwise format: a prompt, its steps (``completions``) and one label per step.
"""

import math
from collections.abc import Sequence

import torch
from transformers import AutoModelForTokenClassification, PreTrainedModel, PreTrainedTokenizerBase

from ..data.formats import StepwiseExample
from ..errors import AlignlabError
from ..losses import LossOutput
from ..scoring.encode import Prompt, encode_completions, encode_prompts, pad
from .batching import chunks, epochs
from .loop import Progress, RunOptions, TrainConfig, train
from .reward_model import head_model_from

IGNORE = -100
"""Label of tokens that are not the end of a step (transformers' ignore index)."""


def verifier_from(causal_lm: PreTrainedModel) -> PreTrainedModel:
    """A token-classification model (classes: step wrong, step right) whose trunk copies ``causal_lm``'s."""
    return head_model_from(causal_lm, AutoModelForTokenClassification, num_labels=2)


def stepwise_batch(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    solutions: Sequence[Sequence[str]],
    labels: Sequence[Sequence[bool]] | None = None,
    *,
    separator: str = "\n",
    chat: bool | None = None,
    max_length: int | None = None,
    first_number: int = 1,
) -> dict[str, torch.Tensor]:
    """Prompt then each ``step + separator``, each tokenized on its own; ``step_ends`` marks the last token of
    every step (B, T), and ``labels`` holds 1/0 there and ``IGNORE`` elsewhere when labels are given.
    Errors name a solution by its number, counted from ``first_number``."""
    prompt_ids = encode_prompts(tokenizer, prompts, chat=chat)
    sequences, ends = [], []
    for row, (ids, steps) in enumerate(zip(prompt_ids, solutions, strict=True)):
        where = f"solution {first_number + row}"
        if not steps:
            raise AlignlabError(f"{where}: a solution needs at least one step")
        sequence = list(ids)
        row_ends = []
        for step_ids in encode_completions(tokenizer, [step + separator for step in steps]):
            sequence += step_ids
            row_ends.append(len(sequence) - 1)
        if max_length is not None and len(sequence) > max_length:
            raise AlignlabError(
                f"{where}: prompt + steps is {len(sequence)} tokens, longer than the model's limit of {max_length}"
            )
        sequences.append(sequence)
        ends.append(row_ends)
    input_ids, attention_mask = pad(sequences, tokenizer.pad_token_id, "right")
    step_ends = torch.zeros_like(input_ids, dtype=torch.bool)
    target = torch.full_like(input_ids, IGNORE)
    for row, row_ends in enumerate(ends):
        step_ends[row, row_ends] = True
        if labels is not None:
            if len(labels[row]) != len(row_ends):
                raise AlignlabError(
                    f"solution {first_number + row}: {len(row_ends)} steps but {len(labels[row])} labels"
                )
            target[row, row_ends] = torch.tensor([int(label) for label in labels[row]])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "step_ends": step_ends}
    if labels is not None:
        batch["labels"] = target
    return batch


def verifier_step(model: torch.nn.Module, batch: dict[str, torch.Tensor], progress: Progress) -> LossOutput:
    """Cross-entropy on step ends only (transformers' token-classification loss ignores the rest)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    labelled = batch["labels"] != IGNORE
    accuracy = (out.logits.argmax(-1) == batch["labels"])[labelled].float().mean()
    return LossOutput(out.loss, {"step_accuracy": accuracy.item()})


def train_verifier(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[StepwiseExample],
    config: TrainConfig,
    *,
    batch_size: int = 16,
    separator: str = "\n",
    chat: bool | None = None,
    options: RunOptions = RunOptions(),
) -> list[dict[str, float]]:
    """Train a PRM or an ORM: which one is decided by the labels in ``examples``."""
    max_length = getattr(model.config, "max_position_embeddings", None)
    batches = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        batch = stepwise_batch(
            tokenizer,
            [e.prompt for e in chunk],
            [e.completions for e in chunk],
            [e.labels for e in chunk],
            separator=separator,
            chat=chat,
            max_length=max_length,
            first_number=start + 1,
        )
        batch.pop("step_ends")
        batches.append(batch)
    return train(model, verifier_step, epochs(batches, seed=options.seed), config, options)


@torch.no_grad()
def step_probabilities(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    solutions: Sequence[Sequence[str]],
    *,
    separator: str = "\n",
    batch_size: int = 64,
    chat: bool | None = None,
) -> list[list[float]]:
    """P(step correct) at the end of each step of each solution; an empty solution gets an empty list."""
    model.eval()
    device = next(model.parameters()).device
    out: list[list[float]] = [[] for _ in prompts]
    rows = [i for i, steps in enumerate(solutions) if steps]
    for chunk in chunks(rows, batch_size):
        batch = stepwise_batch(
            tokenizer,
            [prompts[i] for i in chunk],
            [solutions[i] for i in chunk],
            separator=separator,
            chat=chat,
        )
        logits = model(
            input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
        ).logits
        probs = logits.float().softmax(-1)[..., 1].cpu()
        for row, i in enumerate(chunk):
            out[i] = probs[row][batch["step_ends"][row]].tolist()
    return out


def prm_score(step_probs: Sequence[float]) -> float:
    """Π_i p_i: the probability that every step is correct. 0 for a solution with no steps."""
    return math.prod(step_probs) if step_probs else 0.0


def orm_score(step_probs: Sequence[float]) -> float:
    """p at the last step: the probability that the final answer is correct. 0 for no steps."""
    return step_probs[-1] if step_probs else 0.0
