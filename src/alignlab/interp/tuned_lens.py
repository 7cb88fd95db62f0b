"""The tuned lens (Belrose et al. 2023, "Eliciting Latent Predictions from Transformers with the Tuned Lens").

The logit lens decodes layer l's residual stream h_l as if it were the last; the tuned lens first maps it
through a learned affine translator, one per layer,

    lens_l(h) = log_softmax(W_U · norm_final(h + A_l h + b_l)),     A_l = 0, b_l = 0 at initialisation,

so it starts as the logit lens, and trains each translator on the forward KL to the model's own output

    L_l = E_tokens KL(p_final ‖ lens_l(h_l)).

The last block needs no translator (its lens is the model's output). Saved as ``config.json`` +
``lens.safetensors``; loaded back with identical outputs.
"""

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..errors import AlignlabError
from .hooks import HookedModel
from .lens import decode_residual

WEIGHTS, CONFIG = "lens.safetensors", "config.json"


class TunedLens(nn.Module):
    def __init__(self, d_model: int, n_layers: int) -> None:
        super().__init__()
        self.d_model, self.n_layers = d_model, n_layers
        self.translators = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers - 1))
        for translator in self.translators:
            nn.init.zeros_(translator.weight)
            nn.init.zeros_(translator.bias)

    @classmethod
    def for_model(cls, hooked: HookedModel) -> "TunedLens":
        return cls(hooked.model.config.hidden_size, hooked.n_layers)

    def forward(self, resid: torch.Tensor, layer: int) -> torch.Tensor:
        """The translated residual stream of block ``layer`` (identity for the last block)."""
        if layer == self.n_layers - 1:
            return resid
        return resid + self.translators[layer](resid)

    def save(self, path: str | Path, **metadata) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, path / WEIGHTS)
        config = {"d_model": self.d_model, "n_layers": self.n_layers, **metadata}
        (path / CONFIG).write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TunedLens":
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
            raise AlignlabError(f"{path}: not a tuned lens (expected {CONFIG} and {WEIGHTS})")
        config = json.loads((path / CONFIG).read_text())
        lens = cls(config["d_model"], config["n_layers"])
        lens.load_state_dict(load_file(path / WEIGHTS))
        return lens


def lens_logprobs(
    hooked: HookedModel, resid: torch.Tensor, layer: int, lens: TunedLens | None = None
) -> torch.Tensor:
    """Next-token log-probabilities read from block ``layer``'s output: the logit lens, or the tuned lens."""
    return decode_residual(hooked, resid if lens is None else lens(resid, layer))


def _resid_names(layers: list[int]) -> list[str]:
    return [f"blocks.{i}.hook_resid_post" for i in layers]


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def _forward_kl(target: torch.Tensor, logprobs: torch.Tensor) -> torch.Tensor:
    """Mean over tokens of KL(target ‖ lens), both as log-probabilities (..., V)."""
    return (target.exp() * (target - logprobs)).sum(-1).mean()


def train_tuned_lens(
    hooked: HookedModel,
    blocks: torch.Tensor,
    *,
    steps: int = 100,
    batch_size: int = 8,
    lr: float = 1e-3,
    layers: list[int] | None = None,
    lens: TunedLens | None = None,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> TunedLens:
    """Fit the translators of ``layers`` (default: all but the last) on token ``blocks`` (N, T) on the shared
    training loop: Adam, learning rate decayed linearly to 0, gradient norm clipped at 1 (the paper's
    recipe, at a smaller budget). The first position of each block (BOS) is left out of the loss. Each step's
    loss is the mean over layers of the forward KL; ``on_step(step, loss)``."""
    from ..training import LossOutput, RunOptions, TrainConfig, train

    lens = lens or TunedLens.for_model(hooked)
    layers = layers if layers is not None else list(range(hooked.n_layers - 1))
    if any(not 0 <= i < hooked.n_layers - 1 for i in layers):
        raise AlignlabError(f"tuned-lens layers must be in 0..{hooked.n_layers - 2}, got {layers}")
    device = next(hooked.model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    batches = (
        blocks[torch.randint(len(blocks), (batch_size,), generator=generator)] for _ in itertools.count()
    )

    def step(model: TunedLens, ids: torch.Tensor, progress) -> LossOutput:
        with torch.no_grad():
            logits, cache = hooked.run_with_cache(ids, names=_resid_names(layers))
            target = logits[:, 1:].float().log_softmax(-1)
        loss = sum(
            _forward_kl(
                target, lens_logprobs(hooked, cache[f"blocks.{layer}.hook_resid_post"][:, 1:], layer, model)
            )
            for layer in layers
        ) / len(layers)
        return LossOutput(loss)

    on_log = None if on_step is None else (lambda s, record: on_step(s - 1, record["loss"]))
    with _frozen(hooked.model):
        train(
            lens, step, batches,
            TrainConfig(steps=steps, lr=lr, schedule="linear", grad_clip=1.0, log_every=1),
            RunOptions(device=device, seed=seed, on_log=on_log, progress="tuned lens"),
        )  # fmt: skip
    return lens


@torch.no_grad()
def lens_kl_per_block(
    hooked: HookedModel,
    blocks: torch.Tensor,
    lens: TunedLens | None = None,
    *,
    layers: list[int] | None = None,
    batch_size: int = 8,
) -> dict[int, list[float]]:
    """{layer: [mean KL(p_final ‖ lens_l) over the tokens of each block (BOS excluded)]} for ``layers``
    (default: every block but the last). ``lens=None`` measures the logit lens."""
    layers = layers if layers is not None else list(range(hooked.n_layers - 1))
    device = next(hooked.model.parameters()).device
    per_block: dict[int, list[float]] = {layer: [] for layer in layers}
    for chunk in blocks.split(batch_size):
        logits, cache = hooked.run_with_cache(chunk.to(device), names=_resid_names(layers))
        target = logits[:, 1:].float().log_softmax(-1)
        for layer in layers:
            logprobs = lens_logprobs(hooked, cache[f"blocks.{layer}.hook_resid_post"][:, 1:], layer, lens)
            per_block[layer] += (target.exp() * (target - logprobs)).sum(-1).mean(-1).tolist()
    return per_block


def lens_kl_by_layer(
    hooked: HookedModel,
    blocks: torch.Tensor,
    lens: TunedLens | None = None,
    *,
    layers: list[int] | None = None,
    batch_size: int = 8,
) -> dict[int, float]:
    """{layer: mean KL(p_final ‖ lens_l)} over the tokens of ``blocks`` (BOS excluded)."""
    per_block = lens_kl_per_block(hooked, blocks, lens, layers=layers, batch_size=batch_size)
    return {layer: sum(values) / len(values) for layer, values in per_block.items()}
