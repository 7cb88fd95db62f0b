"""Activations for SAE training: cached once from a model (to memory or a safetensors file on disk), or
streamed through a shuffling buffer for runs too large to cache.

Position 0 of every block (the BOS token, whose residual norm is tens of times the others') is left out,
as SAELens does by default.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import torch

from ...errors import AlignlabError
from ..hooks import HookedModel

WEIGHTS, META = "activations.safetensors", "activations.json"


@torch.no_grad()
def site_activations(hooked: HookedModel, site: str, ids: torch.Tensor) -> torch.Tensor:
    device = next(hooked.model.parameters()).device
    _, cache = hooked.run_with_cache(ids.to(device), names=[site], stop_early=True)
    return cache[site][:, 1:].flatten(0, -2).float().cpu()


@torch.no_grad()
def hidden_state_activations(
    model: torch.nn.Module, input_ids: torch.Tensor, layer: int, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """(n_tokens, d_model) hidden states after block ``layer`` (0: the embeddings) of any Hugging Face model
    that returns ``hidden_states``: encoders such as BERT as well as decoders. Padding positions are dropped."""
    device = next(model.parameters()).device
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=True)
    states = out.hidden_states
    if not -len(states) <= layer < len(states):
        raise AlignlabError(
            f"layer {layer} does not exist: the model returns hidden states 0..{len(states) - 1}"
        )
    return states[layer][mask.to(device).bool()].float().cpu()


class ActivationStore:
    """(N, d_in) float32 activations of one site, served in shuffled minibatches."""

    def __init__(self, activations: torch.Tensor, site: str = "", model_name: str = "") -> None:
        if activations.ndim != 2:
            raise AlignlabError(f"activations must be (tokens, d_in), got shape {tuple(activations.shape)}")
        self.activations, self.site, self.model_name = activations, site, model_name

    @classmethod
    def from_model(
        cls,
        hooked: HookedModel,
        site: str,
        blocks: torch.Tensor,
        *,
        batch_size: int = 8,
        model_name: str = "",
    ) -> "ActivationStore":
        """Run ``blocks`` (N, T) through the model, stopping each forward pass at ``site``."""
        chunks = [site_activations(hooked, site, chunk) for chunk in blocks.split(batch_size)]
        return cls(torch.cat(chunks), site, model_name)

    def __len__(self) -> int:
        return len(self.activations)

    @property
    def d_in(self) -> int:
        return self.activations.shape[1]

    def split(self, held_out: float) -> tuple["ActivationStore", "ActivationStore"]:
        """(train, held-out) by position: the held-out tokens come from the last blocks, unseen in training."""
        cut = int(len(self) * (1 - held_out))
        return (
            ActivationStore(self.activations[:cut], self.site, self.model_name),
            ActivationStore(self.activations[cut:], self.site, self.model_name),
        )

    def normalization_scale(self, sample: int = 10_000) -> float:
        """s with E‖s·x‖ = √d_in (SAELens's expected_average_only_in)."""
        norms = self.activations[:sample].norm(dim=1)
        return self.d_in**0.5 / norms.mean().item()

    def batches(self, batch_size: int, *, seed: int = 0) -> Iterator[torch.Tensor]:
        """Endless shuffled minibatches, a fresh permutation per epoch."""
        generator = torch.Generator().manual_seed(seed)
        while True:
            order = torch.randperm(len(self), generator=generator)
            for start in range(0, len(order) - batch_size + 1, batch_size):
                yield self.activations[order[start : start + batch_size]]

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({"activations": self.activations.contiguous()}, path / WEIGHTS)
        meta = {"site": self.site, "model_name": self.model_name, "shape": list(self.activations.shape)}
        (path / META).write_text(json.dumps(meta))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ActivationStore":
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / WEIGHTS).is_file():
            raise AlignlabError(f"{path}: no cached activations ({WEIGHTS} missing)")
        meta = json.loads((path / META).read_text()) if (path / META).is_file() else {}
        return cls(load_file(path / WEIGHTS)["activations"], meta.get("site", ""), meta.get("model_name", ""))


def stream_activations(
    hooked: HookedModel,
    site: str,
    blocks: Iterator[torch.Tensor],
    *,
    batch_size: int,
    buffer_tokens: int = 65_536,
    seed: int = 0,
) -> Iterator[torch.Tensor]:
    """Minibatches straight from the model: fill a buffer from batches of token blocks, shuffle it, serve half,
    refill (SAELens's mixing buffer), so consecutive minibatches do not come from the same few documents."""
    generator = torch.Generator().manual_seed(seed)
    pending: list[torch.Tensor] = []
    exhausted = False
    while True:
        while not exhausted and sum(len(p) for p in pending) < buffer_tokens:
            ids = next(blocks, None)
            if ids is None:
                exhausted = True
            else:
                pending.append(site_activations(hooked, site, ids))
        if not pending:
            return
        buffer = torch.cat(pending)
        buffer = buffer[torch.randperm(len(buffer), generator=generator)]
        served = len(buffer) if exhausted else len(buffer) // 2
        served -= served % batch_size
        for start in range(0, served, batch_size):
            yield buffer[start : start + batch_size]
        pending = [buffer[served:]]
        if exhausted:
            return
