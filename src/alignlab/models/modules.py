"""Small modules swapped into Hugging Face models."""

import torch
from torch import nn


class NoMLP(nn.Module):
    """Writes nothing to the residual stream, making its block attention-only."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states.new_zeros(hidden_states.shape)
