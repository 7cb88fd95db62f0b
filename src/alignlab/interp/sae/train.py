"""Training a sparse autoencoder of any architecture on the shared training loop.

    L = ‖x − x̂‖²  (summed over d_in, mean over tokens)  +  Σ the architecture's auxiliary losses

Adam, gradient-norm clipping, a linear warm-up and a linear decay over the last ``lr_decay`` of steps; with a
unit-norm decoder, the gradient's component along each decoder row is removed before clipping and the rows
are renormalised after every step. Latents that have not fired for ``dead_feature_window`` tokens are dead
(AuxK trains them); that count is part of the training state, so a resumed run picks it up.

``SAETrainer`` exposes one step (``train_step(batch)``) for a researcher's own loop; ``train_sae`` runs the
whole schedule on ``alignlab.training.train``, with checkpoints and resume.
"""

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ...losses import LossOutput
from .architectures import build_sae
from .config import SAEConfig
from .model import SparseAutoencoder, TrainingState
from .store import ActivationStore

LogFn = Callable[[int, dict[str, float]], None]


class DeadLatents:
    """Tokens since each latent last fired; a stateful object the loop checkpoints."""

    def __init__(self, d_sae: int, window: int, device: torch.device | str = "cpu") -> None:
        self.window = window
        self.tokens_since_fired = torch.zeros(d_sae, device=device)

    @property
    def mask(self) -> torch.Tensor:
        return self.tokens_since_fired >= self.window

    @torch.no_grad()
    def update(self, features: torch.Tensor) -> None:
        self.tokens_since_fired += len(features)
        self.tokens_since_fired[(features > 0).any(0)] = 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"tokens_since_fired": self.tokens_since_fired}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.tokens_since_fired = state["tokens_since_fired"].to(self.tokens_since_fired.device)


class SAETrainer:
    """The pieces of SAE training: the loss of one batch (``loss``), what happens around the optimizer step
    (``after_backward``, ``after_step``), and ``train_step(batch)`` for a loop of one's own."""

    def __init__(self, sae: SparseAutoencoder, *, scale: float = 1.0) -> None:
        self.sae, self.scale = sae, scale
        self.dead = DeadLatents(sae.config.d_sae, sae.config.dead_feature_window, sae.W_dec.device)
        self.optimizer: torch.optim.Optimizer | None = None
        self.steps_done = 0

    def loss(self, sae: SparseAutoencoder, batch: torch.Tensor, progress: float) -> LossOutput:
        """Reconstruction plus the architecture's auxiliary losses, on ``batch`` (raw activations, (B, d_in))."""
        x = batch * self.scale
        loss = sae.loss(x, TrainingState(progress, self.dead.mask))
        self.dead.update(loss.output.features)
        with torch.no_grad():
            mse = loss.reconstruction.detach()
            variance = (x - x.mean(0)).pow(2).sum(-1).mean()
            metrics = {
                "mse": mse,
                "explained_variance": 1 - mse / variance,
                "l0": (loss.output.features > 0).sum(-1).float().mean(),
                "dead_fraction": self.dead.mask.float().mean(),
                **{name: value.detach() for name, value in loss.terms.items()},
            }
        return LossOutput(loss.total, metrics)

    def after_backward(self, sae: SparseAutoencoder) -> None:
        if sae.config.unit_norm_decoder:
            sae.remove_parallel_decoder_grad()

    def after_step(self, step: int, sae: SparseAutoencoder) -> bool:
        sae.after_step()
        if sae.config.unit_norm_decoder:
            sae.normalize_decoder()
        return False

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        """One optimizer step on ``batch`` (raw activations) with Adam at the config's learning rate, no
        schedule: for a researcher's own loop. Returns the loss and metrics as floats."""
        sae, config = self.sae, self.sae.config
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
        sae.train()
        out = self.loss(sae, batch.to(sae.W_dec.device), min(self.steps_done / config.steps, 1.0))
        out.loss.backward()
        self.after_backward(sae)
        torch.nn.utils.clip_grad_norm_(sae.parameters(), config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.after_step(self.steps_done, sae)
        self.steps_done += 1
        return {"loss": out.loss.item(), **{k: float(v) for k, v in out.metrics.items()}}


def train_sae(
    config: SAEConfig,
    data: ActivationStore | Iterator[torch.Tensor],
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    log_every: int = 50,
    on_log: LogFn | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 100,
) -> SparseAutoencoder:
    """Train an SAE of ``config.architecture`` for ``config.steps`` steps of ``config.batch_size`` raw
    activations drawn from ``data`` (a store, shuffled with ``seed``, or an iterator of batches, which must be
    that size). With ``normalize_activations`` the activations are scaled to E‖x‖ = √d_in while training
    (measured on the store, or on the first batch of an iterator) and the scale is folded into the returned
    SAE, which reads raw activations. With ``checkpoint_dir`` the run checkpoints and resumes."""
    from ...training import LoopHooks, RunOptions, TrainConfig, train

    store = isinstance(data, ActivationStore)
    if store and data.d_in != config.d_in:
        raise ValueError(
            f"the store holds {data.d_in}-wide activations but the SAE reads d_in = {config.d_in}"
        )
    if store and len(data) < config.batch_size:
        raise ValueError(
            f"the store holds {len(data)} activations, fewer than one batch of {config.batch_size}"
        )
    batches = data.batches(config.batch_size, seed=seed) if store else iter(data)
    first = next(batches)
    if first.shape != (config.batch_size, config.d_in):
        raise ValueError(
            f"batches must be (batch_size, d_in) = ({config.batch_size}, {config.d_in}), got {tuple(first.shape)}"
        )
    if not config.normalize_activations:
        scale = 1.0
    else:
        scale = data.normalization_scale() if store else config.d_in**0.5 / first.norm(dim=1).mean().item()
    batches = itertools.chain([first], batches)
    sae = build_sae(config, seed=seed).to(device)
    with torch.no_grad():
        sae.b_dec.copy_(first.to(device).mean(0) * scale)  # start the decoder bias at the data mean
    trainer = SAETrainer(sae, scale=scale)
    decay = int(config.lr_decay * config.steps)
    train(
        sae,
        lambda model, batch, progress: trainer.loss(model, batch, progress.fraction),
        batches,
        TrainConfig(
            steps=config.steps, lr=config.lr, warmup_steps=int(config.lr_warmup * config.steps),
            schedule="warmup_stable_decay", decay_steps=decay, grad_clip=config.grad_clip,
            log_every=log_every, checkpoint_every=checkpoint_every,
        ),
        RunOptions(device=device, seed=seed, on_log=on_log, checkpoint_dir=checkpoint_dir, progress="SAE"),
        stateful=[trainer.dead],
        hooks=LoopHooks(after_backward=trainer.after_backward, after_step=trainer.after_step),
    )  # fmt: skip
    sae.eval()
    sae.fold_input_scale(scale)
    return sae
