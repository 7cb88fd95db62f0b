"""Induction heads (Olsson et al. 2022, "In-context Learning and Induction Heads").

An induction head completes [A][B] … [A] → [B]: at the second [A] it attends to the token *after* the first
[A] and copies it. Measured on repeated random tokens x = (BOS, r_1..r_n, r_1..r_n):

    prefix-matching score(head) = mean over second-copy queries r_i of attention to the first copy's r_{i+1}
    in-context-learning score  = loss at late tokens − loss at early tokens (Olsson: token 500 − token 50)

Attention patterns need eager attention (``model.set_attn_implementation("eager")``).
"""

import torch

from .hooks import HookedModel, ablate_heads


def repeated_random_tokens(
    n: int, half: int, low: int, high: int, generator: torch.Generator, bos: int | None = None
) -> torch.Tensor:
    """(n, [1 +] 2·half): a uniformly random token sequence from [low, high) followed by itself."""
    first = torch.randint(low, high, (n, half), generator=generator)
    ids = torch.cat([first, first], dim=1)
    return ids if bos is None else torch.cat([torch.full((n, 1), bos), ids], dim=1)


def sequences_with_repeats(
    n: int,
    seq_len: int,
    low: int,
    high: int,
    periods: tuple[int, int],
    generator: torch.Generator,
    bos: int | None = None,
) -> torch.Tensor:
    """Training text for induction: uniformly random tokens from [low, high) in which a segment of random
    length m ∈ [periods[0], periods[1]] is immediately repeated at a random place. Only the repeat is
    predictable, and only by looking back m tokens — a distance that changes from row to row."""
    ids = torch.randint(low, high, (n, seq_len), generator=generator)
    for row in ids:
        m = int(torch.randint(periods[0], periods[1] + 1, (1,), generator=generator))
        start = int(torch.randint(0, seq_len - 2 * m + 1, (1,), generator=generator))
        row[start + m : start + 2 * m] = row[start : start + m].clone()
    return ids if bos is None else torch.cat([torch.full((n, 1), bos), ids], dim=1)


@torch.no_grad()
def token_losses(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, T - 1): −log p(ids[:, t + 1] | ids[:, :t + 1]) at each position."""
    logits = model(input_ids=ids).logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")


@torch.no_grad()
def prefix_matching_scores(hooked: HookedModel, ids: torch.Tensor, half: int) -> torch.Tensor:
    """(n_layers, n_heads) mean attention from each second-copy token to the token after its first
    occurrence, on ``ids`` = repeated_random_tokens(..., half, bos=...) (with one leading BOS)."""
    offset = ids.shape[1] - 2 * half  # 1 with a BOS, 0 without
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(hooked.n_layers)]
    _, cache = hooked.run_with_cache(ids, names=names)
    queries = torch.arange(offset + half, offset + 2 * half - 1)  # second-copy r_1 .. r_{n-1}
    keys = queries - half + 1  # the first copy's r_{i+1}
    scores = [cache[name][:, :, queries, keys].mean(dim=(0, 2)) for name in names]  # (H,) each
    return torch.stack(scores)


def icl_score(losses: torch.Tensor, early: slice, late: slice) -> float:
    """Mean loss at ``late`` positions minus mean loss at ``early`` positions (negative: context helps)."""
    return (losses[:, late].mean() - losses[:, early].mean()).item()


@torch.no_grad()
def head_ablation_losses(hooked: HookedModel, ids: torch.Tensor, half: int) -> torch.Tensor:
    """(n_layers, n_heads): mean loss on the second copy's r_2..r_n with each head zero-ablated alone."""
    offset = ids.shape[1] - 2 * half
    second = slice(offset + half, None)
    out = torch.zeros(hooked.n_layers, hooked.n_heads)
    for layer in range(hooked.n_layers):
        for head in range(hooked.n_heads):
            with hooked.hooks({f"blocks.{layer}.attn.hook_z": ablate_heads([head])}):
                out[layer, head] = token_losses(hooked.model, ids)[:, second].mean()
    return out
