"""Per-token log-probabilities of completions given prompts: the primitive that DPO, reward models,
likelihood judges and probes build on.

For a sequence x_1..x_T, the model's logits at position t give log p(x_{t+1} | x_<=t); a completion's
log-likelihood is the sum over its tokens:  log p(c | p) = sum_{t in completion} log p(x_t | x_<t).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .encode import Prompt, collate_prompt_completion, model_max_length


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """log p(x_t | x_<t) for t = 1..T-1.

    logits: (B, T, V), input_ids: (B, T) -> (B, T-1); entry [b, t-1] scores token input_ids[b, t].
    Computed as a cross-entropy, which never materialises the (B, T, V) log-softmax.
    """
    B, T, V = logits.shape
    nll = F.cross_entropy(
        logits[:, :-1].reshape(-1, V).float(), input_ids[:, 1:].reshape(-1), reduction="none"
    )  # (B*(T-1),)
    return -nll.view(B, T - 1)


def completion_token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
) -> torch.Tensor:
    """Differentiable per-token log-probs of the completion tokens, zero elsewhere. (B, T) -> (B, T-1).

    Positions count real tokens only, so left-padded rows (rollouts) score exactly as ``generate`` saw them.
    """
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
    ).logits  # (B, T, V)
    return token_logprobs(logits, input_ids) * completion_mask[:, 1:]


@dataclass(frozen=True)
class ScoredCompletion:
    token_logprobs: list[float]
    """log p of each completion token given everything before it."""

    @property
    def total(self) -> float:
        """log p(completion | prompt)."""
        return float(sum(self.token_logprobs))

    @property
    def mean(self) -> float:
        """Per-token average: a length-normalised score."""
        return self.total / max(len(self.token_logprobs), 1)


@torch.no_grad()
def score_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    *,
    batch_size: int = 8,
    chat: bool | None = None,
) -> list[ScoredCompletion]:
    """Score each completion given its prompt, batching rows of similar length together."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    rough_length = [len(str(p)) + len(c) for p, c in zip(prompts, completions, strict=True)]
    order = sorted(range(len(prompts)), key=rough_length.__getitem__)
    device = next(model.parameters()).device
    results: dict[int, ScoredCompletion] = {}
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = collate_prompt_completion(
            tokenizer,
            [prompts[i] for i in rows],
            [completions[i] for i in rows],
            chat=chat,
            max_length=model_max_length(model),
        ).to(device)
        logps = completion_token_logprobs(model, batch.input_ids, batch.attention_mask, batch.completion_mask)
        keep = batch.completion_mask[:, 1:].bool()
        for b, i in enumerate(rows):
            results[i] = ScoredCompletion(logps[b][keep[b]].tolist())
    return [results[i] for i in range(len(prompts))]
