"""Induction heads (Olsson et al. 2022, "In-context Learning and Induction Heads").

An induction head completes [A][B] … [A] → [B]: at the second [A] it attends to the token *after* the first
[A] and copies it. Measured on repeated random tokens x = (BOS, r_1..r_n, r_1..r_n):

    prefix-matching score(head) = mean over second-copy queries r_i of attention to the first copy's r_{i+1}
    copying score(head)         = Σ λ / Σ |λ| over the eigenvalues λ of its OV circuit W_E W_V W_O W_U
                                  (1: the head raises the logit of the token it attends to)
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


def periodic_sequences(
    n: int,
    seq_len: int,
    low: int,
    high: int,
    periods: tuple[int, int],
    generator: torch.Generator,
    bos: int | None = None,
) -> torch.Tensor:
    """Repetition-rich training text: each row repeats one random segment of tokens from [low, high), of a
    length m ∈ [periods[0], periods[1]] drawn per row, until it is ``seq_len`` long. Every token after the
    first m is predictable, but only by finding where the current token occurred before (m changes from row
    to row, so no fixed offset works)."""
    rows = []
    for _ in range(n):
        m = int(torch.randint(periods[0], periods[1] + 1, (1,), generator=generator))
        segment = torch.randint(low, high, (m,), generator=generator)
        rows.append(segment.repeat(seq_len // m + 1)[:seq_len])
    ids = torch.stack(rows)
    return ids if bos is None else torch.cat([torch.full((n, 1), bos), ids], dim=1)


@torch.no_grad()
def token_losses(model, ids: torch.Tensor) -> torch.Tensor:
    """(B, T - 1): −log p(ids[:, t + 1] | ids[:, :t + 1]) at each position."""
    logits = model(input_ids=ids).logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")


@torch.no_grad()
def prefix_matching_scores(
    hooked: HookedModel, ids: torch.Tensor, half: int, *, per_sequence: bool = False
) -> torch.Tensor:
    """(n_layers, n_heads) mean attention from each second-copy token to the token after its first
    occurrence, on ``ids`` = repeated_random_tokens(..., half, bos=...) (with one leading BOS);
    (n_layers, n_heads, B) with ``per_sequence``."""
    offset = ids.shape[1] - 2 * half  # 1 with a BOS, 0 without
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(hooked.n_layers)]
    _, cache = hooked.run_with_cache(ids, names=names)
    queries = torch.arange(offset + half, offset + 2 * half - 1)  # second-copy r_1 .. r_{n-1}
    keys = queries - half + 1  # the first copy's r_{i+1}
    scores = torch.stack([cache[name][:, :, queries, keys].mean(dim=2) for name in names])  # (L, B, H)
    return scores.permute(0, 2, 1) if per_sequence else scores.mean(dim=1)


@torch.no_grad()
def copying_score(model, layer: int, head: int) -> float:
    """Olsson et al.'s copying score of one head's OV circuit, M = W_E W_V^h W_O^h W_U (V × V), read
    without the norms in between: Σ λ / Σ |λ| over M's eigenvalues (1 for a pure copying head)."""
    attention = model.model.layers[layer].self_attn
    d_head = model.config.hidden_size // model.config.num_attention_heads
    rows = slice(head * d_head, (head + 1) * d_head)
    if attention.v_proj.weight.shape[0] != model.config.hidden_size:
        raise ValueError("copying_score needs as many key/value heads as query heads")
    w_v = attention.v_proj.weight[rows]  # (d_head, d_model)
    w_o = attention.o_proj.weight[:, rows]  # (d_model, d_head)
    w_e, w_u = model.get_input_embeddings().weight, model.get_output_embeddings().weight  # (V, d_model)
    # the eigenvalues of W_E W_V^T W_O^T W_U^T (V × V) are those of the small (d_head × d_head) product
    small = w_v @ w_e.T @ w_u @ w_o  # (d_head, d_head): same nonzero eigenvalues
    eigenvalues = torch.linalg.eigvals(small.double())
    return float(eigenvalues.real.sum() / eigenvalues.abs().sum())


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
