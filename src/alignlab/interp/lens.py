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
    position: int = -1,
) -> torch.Tensor:
    """Log-probabilities over the vocabulary at ``position`` for every layer: (n_layers, V), batch row 0."""
    names = [f"blocks.{i}.hook_resid_post" for i in range(hooked.n_layers)]
    _, cache = hooked.run_with_cache(
        input_ids[:1], None if attention_mask is None else attention_mask[:1], names=names
    )
    resid = torch.stack([cache[n][0, position] for n in names])  # (n_layers, d_model)
    return decode_residual(hooked, resid)  # (n_layers, V)
