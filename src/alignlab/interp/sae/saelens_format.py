"""SAELens's on-disk format (v6): a folder with ``cfg.json`` and ``sae_weights.safetensors``.

Tensors: W_enc (d_in, d_sae), b_enc (d_sae,), W_dec (d_sae, d_in), b_dec (d_in,), and threshold (d_sae,) for
JumpReLU. Architectures map to SAELens's inference classes: relu → "standard", topk → "topk", jumprelu →
"jumprelu", and batchtopk → "jumprelu" with its learned threshold (what SAELens itself saves for a BatchTopK
SAE); alignlab's own architecture name and training config ride along in ``metadata``, so our loader rebuilds
the exact module. ``SAE.load_from_disk(path)`` in SAELens opens these folders.
"""

import json
from pathlib import Path

import torch

from ...errors import AlignlabError
from .config import SAEConfig
from .model import SparseAutoencoder

WEIGHTS, CONFIG = "sae_weights.safetensors", "cfg.json"
SAELENS_ARCHITECTURE = {"relu": "standard", "topk": "topk", "jumprelu": "jumprelu", "batchtopk": "jumprelu"}


def save_sae(
    sae: SparseAutoencoder,
    path: str | Path,
    *,
    model_name: str = "",
    hook_name: str = "",
    context_size: int | None = None,
) -> Path:
    from safetensors.torch import save_file

    config = sae.config
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: getattr(sae, name).detach().float().contiguous()
        for name in ("W_enc", "b_enc", "W_dec", "b_dec")
    }
    cfg = {
        "architecture": SAELENS_ARCHITECTURE[config.architecture],
        "d_in": config.d_in,
        "d_sae": config.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",  # the training scale is folded into the weights
        "reshape_activations": "none",
        "metadata": {
            "model_name": model_name,
            "hook_name": hook_name,
            "hook_head_index": None,
            "context_size": context_size,
            "prepend_bos": True,
            "alignlab_config": config.model_dump(),
        },
    }
    if config.architecture in ("jumprelu", "batchtopk"):
        tensors["threshold"] = sae.threshold.detach().float().contiguous()
    if config.architecture == "topk":
        cfg |= {"k": config.k, "rescale_acts_by_decoder_norm": False}
    save_file(tensors, path / WEIGHTS)
    (path / CONFIG).write_text(json.dumps(cfg, indent=2))
    return path


def load_sae(path: str | Path) -> SparseAutoencoder:
    """Load a folder written by ``save_sae`` (or a SAELens standard/topk/jumprelu SAE) for inference."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise AlignlabError(f"{path}: not an SAE folder (expected {CONFIG} and {WEIGHTS})")
    cfg = json.loads((path / CONFIG).read_text())
    saved = (cfg.get("metadata") or {}).get("alignlab_config")
    if saved is not None:
        config = SAEConfig(**saved)
    else:
        by_saelens = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}
        if cfg.get("architecture") not in by_saelens:
            raise AlignlabError(
                f"{path / CONFIG}: architecture {cfg.get('architecture')!r} is not one alignlab reads"
            )
        if cfg["d_sae"] % cfg["d_in"]:
            raise AlignlabError(
                f"{path / CONFIG}: d_sae {cfg['d_sae']} is not a multiple of d_in {cfg['d_in']}"
            )
        config = SAEConfig(
            d_in=cfg["d_in"],
            expansion=cfg["d_sae"] // cfg["d_in"],
            architecture=by_saelens[cfg["architecture"]],
            k=cfg.get("k", 32),
            normalize_activations=False,
        )
    tensors = load_file(path / WEIGHTS)
    sae = SparseAutoencoder(config)
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            if tensors[name].shape != getattr(sae, name).shape:
                raise AlignlabError(
                    f"{path / WEIGHTS}: {name} has shape {tuple(tensors[name].shape)}, expected {tuple(getattr(sae, name).shape)}"
                )
            getattr(sae, name).copy_(tensors[name])
        if config.architecture == "jumprelu":
            sae.jumprelu_threshold.copy_(tensors["threshold"])
        elif config.architecture == "batchtopk":
            sae.batch_threshold.copy_(tensors["threshold"][0])
    return sae.eval()
