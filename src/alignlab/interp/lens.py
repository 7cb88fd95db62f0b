"""The logit lens (nostalgebraist 2020): read each layer's residual stream through the model's own final norm
and unembedding, as if the network stopped there.

    lens_i(x) = log_softmax(W_U · norm_final(resid_post_i(x)))

At the last layer this is exactly the model's output distribution.
"""

import torch

from .hooks import HookedModel


def decode_residual(hooked: HookedModel, resid: torch.Tensor) -> torch.Tensor:
    """log_softmax(W_U · norm_final(resid)): the model's own read-out applied to any residual vector."""
    return hooked.model.get_output_embeddings()(hooked.final_norm(resid)).float().log_softmax(-1)


@torch.no_grad()
def logit_lens(
    hooked: HookedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position: int | None = None,
) -> torch.Tensor:
    """Log-probabilities over the vocabulary for every layer: (B, n_layers, V).

    ``position`` is the token position read in every row; None reads each row's last real token (the last
    position whose ``attention_mask`` is 1, so right-padded batches of prompts of different lengths work).
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (batch, tokens), got shape {tuple(input_ids.shape)}")
    names = [f"blocks.{i}.hook_resid_post" for i in range(hooked.n_layers)]
    _, cache = hooked.run_with_cache(input_ids, attention_mask, names=names)
    rows = torch.arange(input_ids.shape[0])
    if position is not None:
        positions = torch.full_like(rows, position % input_ids.shape[1])
    elif attention_mask is not None:
        positions = attention_mask.long().cumsum(-1).argmax(-1).cpu()  # the last 1 in each row
    else:
        positions = torch.full_like(rows, input_ids.shape[1] - 1)
    resid = torch.stack([cache[n][rows, positions] for n in names], dim=1)  # (B, n_layers, d_model)
    return decode_residual(hooked, resid)  # (B, n_layers, V)
