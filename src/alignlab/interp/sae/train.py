"""Training a sparse autoencoder on a stream of activations.

    L = ‖x − x̂‖²                                      reconstruction, summed over d_in, mean over tokens
      + λ₁ Σ_i f_i ‖W_dec,i‖                           relu      (λ ramped up over the first few % of steps)
      + λ₀ Σ_i H(pre_i − θ_i)                          jumprelu  (straight-through estimator for θ)
      + α ‖e − Σ_{i ∈ topk_aux(dead)} f_i W_dec,i‖² / ‖e‖²   topk / batchtopk: AuxK, e = x − x̂ (Gao et al. 2024)

Adam, gradient-norm clipping, linear warm-up and a linear decay over the last 20% of steps; decoder rows
renormalised after every step.
"""

from collections.abc import Callable, Iterator

import torch

from .config import SAEConfig
from .model import SAEOutput, SparseAutoencoder

LogFn = Callable[[int, dict[str, float]], None]


def aux_k_loss(sae: SparseAutoencoder, x: torch.Tensor, out: SAEOutput, dead: torch.Tensor) -> torch.Tensor:
    """Reconstruct the residual error with the top-k_aux dead latents, normalised by the error's power,
    so the dead latents get a gradient towards what the live ones miss."""
    n_dead = int(dead.sum())
    if n_dead == 0:
        return x.new_zeros(())
    residual = (x - out.reconstruction).detach()
    pre = out.pre_activations.masked_fill(~dead, float("-inf"))
    values, indices = sae.topk_codes(pre, min(sae.config.resolved_aux_k, n_dead))
    error = sae.decode_sparse(values, indices) - residual
    return error.pow(2).sum(-1).mean() / residual.pow(2).sum(-1).mean().clamp_min(1e-12)


def _lr_factor(step: int, steps: int, warmup: float) -> float:
    warmup_steps, decay_start = int(warmup * steps), int(0.8 * steps)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if step >= decay_start:
        return max(0.0, (steps - step) / (steps - decay_start))
    return 1.0


def train_sae(
    config: SAEConfig,
    batches: Iterator[torch.Tensor],
    *,
    steps: int,
    scale: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    log_every: int = 50,
    on_log: LogFn | None = None,
) -> SparseAutoencoder:
    """Train on ``steps`` minibatches of raw activations (B, d_in) from ``batches``, multiplied by ``scale``
    while training (see ``ActivationStore.normalization_scale``); the returned SAE has the scale folded in
    and reads raw activations."""
    sae = SparseAutoencoder(config, seed=seed).to(device)
    first = next(batches).to(device) * scale
    with torch.no_grad():
        sae.b_dec.copy_(first.mean(0))  # start the decoder bias at the data mean
    optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps, config.lr_warmup))
    tokens_since_fired = torch.zeros(config.d_sae, device=device)
    sae.train()
    x = first
    for step in range(steps):
        if step:
            x = next(batches).to(device) * scale
        out = sae(x)
        mse = (out.reconstruction - x).pow(2).sum(-1).mean()
        ramp = min(1.0, (step + 1) / max(1, config.sparsity_warmup * steps))
        dead = tokens_since_fired >= config.dead_feature_window
        if config.architecture == "relu":
            penalty = (out.features * sae.W_dec.norm(dim=1)).sum(-1).mean()
            loss = mse + ramp * config.l1_coefficient * penalty
        elif config.architecture == "jumprelu":
            penalty = sae.l0_penalty(out.pre_activations)
            loss = mse + ramp * config.l0_coefficient * penalty
        else:
            penalty = aux_k_loss(sae, x, out, dead)
            loss = mse + config.aux_coefficient * penalty
        loss.backward()
        if config.unit_norm_decoder:
            sae.remove_parallel_decoder_grad()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), config.grad_clip)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        sae.clamp_thresholds()
        if config.unit_norm_decoder:
            sae.normalize_decoder()
        with torch.no_grad():
            fired = (out.features > 0).any(0)
            tokens_since_fired += len(x)
            tokens_since_fired[fired] = 0
        if on_log is not None and (step % log_every == 0 or step == steps - 1):
            total_variance = (x - x.mean(0)).pow(2).sum(-1).mean()
            on_log(
                step,
                {
                    "loss": loss.item(),
                    "mse": mse.item(),
                    "explained_variance": 1 - mse.item() / total_variance.item(),
                    "penalty": penalty.item(),
                    "l0": (out.features > 0).sum(-1).float().mean().item(),
                    "dead_fraction": dead.float().mean().item(),
                },
            )
    sae.eval()
    sae.fold_input_scale(scale)
    return sae
