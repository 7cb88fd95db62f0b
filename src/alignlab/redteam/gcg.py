"""Greedy coordinate gradient (GCG; Zou et al. 2023): search for an adversarial suffix that makes a white-box
model emit a target. Each step takes the gradient of the target's loss with respect to a one-hot encoding of
the suffix, keeps the top-k tokens per position (most negative gradient), evaluates a batch of candidates that
each change one position to one of them, and keeps the best suffix found so far.

``proposal="random"`` draws the candidate tokens uniformly from the allowed ones instead: the same search
without the gradient, the control that shows what the gradient adds."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GCGResult:
    suffix_ids: list[int]
    losses: list[float]
    """The best target loss (mean NLL per target token) after each step; the first entry is the start."""
    emitted: list[bool]
    """After each step: whether greedy decoding after the best suffix emits exactly the target."""

    @property
    def first_success(self) -> int | None:
        """The first step after which the target is emitted (0: the start suffix already does), or None."""
        return next((step for step, hit in enumerate(self.emitted) if hit), None)


def target_loss(model, embeds: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
    """Mean NLL of the target, which fills the last len(target) positions of ``embeds``: (B, T, d) -> (B,)."""
    return _loss_and_emitted(model, embeds, target_ids)[0]


def _loss_and_emitted(
    model, embeds: torch.Tensor, target_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean target NLL, whether every target token is the argmax given the ones before it), each (B,). The
    second is exactly "greedy decoding emits the target", since greedy decoding feeds back its own argmax."""
    logits = model(inputs_embeds=embeds).logits
    n = target_ids.shape[-1]
    predicted = logits[:, -n - 1 : -1].float()  # position t predicts token t + 1
    targets = target_ids.expand(len(embeds), -1)
    loss = F.cross_entropy(predicted.transpose(1, 2), targets, reduction="none").mean(1)
    return loss, (predicted.argmax(-1) == targets).all(1)


def gcg(
    model,
    prompt_ids: Sequence[int],
    target_ids: Sequence[int],
    *,
    suffix_ids: Sequence[int],
    steps: int = 50,
    top_k: int = 32,
    candidates: int = 64,
    allowed: Sequence[int] | None = None,
    proposal: Literal["gradient", "random"] = "gradient",
    between_ids: Sequence[int] = (),
    seed: int = 0,
) -> GCGResult:
    """Optimise ``suffix_ids`` (its length is kept) placed after ``prompt_ids`` so that ``target_ids`` follow
    (after ``between_ids``, e.g. the end of a chat template's user turn and the assistant's header).
    ``allowed`` restricts the tokens a suffix may use (e.g. no special tokens)."""
    device = next(model.parameters()).device
    table = model.get_input_embeddings().weight  # (V, d)
    prompt = torch.tensor([list(prompt_ids)], device=device)
    target = torch.tensor([list(target_ids)], device=device)
    suffix = torch.tensor(list(suffix_ids), device=device)
    mask = torch.full((table.shape[0],), float("inf"), device=device)
    mask[torch.tensor(list(allowed), device=device) if allowed is not None else slice(None)] = 0.0
    generator = torch.Generator(device="cpu").manual_seed(seed)
    after = torch.tensor([[*between_ids, *target_ids]], device=device)
    fixed_before, fixed_after = table[prompt].detach(), table[after].detach()

    pool = (
        torch.tensor(list(allowed), device=device)
        if allowed is not None
        else torch.arange(len(table), device=device)
    )

    def losses_of(suffixes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeds = torch.cat([fixed_before.expand(len(suffixes), -1, -1), table[suffixes],
                            fixed_after.expand(len(suffixes), -1, -1)], 1)  # fmt: skip
        return _loss_and_emitted(model, embeds, target)

    with torch.no_grad():
        loss, hit = losses_of(suffix[None])
    best, best_hit = float(loss[0]), bool(hit[0])
    history, emitted = [best], [best_hit]
    for _ in range(steps):
        if proposal == "gradient":
            one_hot = F.one_hot(suffix, table.shape[0]).to(table.dtype).requires_grad_(True)
            embeds = torch.cat([fixed_before, (one_hot @ table)[None], fixed_after], 1)
            (grad,) = torch.autograd.grad(target_loss(model, embeds, target).sum(), one_hot)
            top = (
                (grad + mask).topk(top_k, dim=1, largest=False).indices
            )  # (L, k): tokens that lower the loss most
        else:
            top = pool[torch.randint(len(pool), (len(suffix), top_k), generator=generator).to(device)]
        positions = torch.randint(len(suffix), (candidates,), generator=generator).to(device)
        choices = top[positions, torch.randint(top_k, (candidates,), generator=generator).to(device)]
        batch = suffix.repeat(candidates, 1)
        batch[torch.arange(candidates, device=device), positions] = choices
        with torch.no_grad():
            scores, hits = losses_of(batch)
        i = int(scores.argmin())
        if float(scores[i]) < best:
            best, best_hit, suffix = float(scores[i]), bool(hits[i]), batch[i]
        history.append(best)
        emitted.append(best_hit)
    return GCGResult(suffix.tolist(), history, emitted)


@torch.no_grad()
def suffix_effect(
    model,
    prompt_ids: Sequence[int],
    suffix_ids: Sequence[int],
    target_ids: Sequence[int],
    between_ids: Sequence[int] = (),
) -> tuple[float, bool]:
    """(target loss, whether greedy decoding emits the target) for ``suffix_ids`` on ``model``: how a suffix
    found on one model is tried on another (transfer)."""
    device = next(model.parameters()).device
    table = model.get_input_embeddings().weight
    ids = torch.tensor([[*prompt_ids, *suffix_ids, *between_ids, *target_ids]], device=device)
    loss, emitted = _loss_and_emitted(model, table[ids], torch.tensor([list(target_ids)], device=device))
    return float(loss[0]), bool(emitted[0])
