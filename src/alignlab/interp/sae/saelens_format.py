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
from .architectures import build_sae, sae_config
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
        "apply_b_dec_to_input": config.apply_b_dec_to_input,
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
    if sae.threshold is not None:
        tensors["threshold"] = sae.threshold.detach().float().contiguous()
    if config.architecture == "topk":
        cfg |= {"k": config.k, "rescale_acts_by_decoder_norm": False}
    save_file(tensors, path / WEIGHTS)
    (path / CONFIG).write_text(json.dumps(cfg, indent=2))
    return path


def load_sae(path: str | Path) -> SparseAutoencoder:
    """Load a folder written by ``save_sae`` (or a SAELens standard/topk/jumprelu SAE) for inference. Settings
    alignlab cannot reproduce (input normalisation folded in elsewhere, activations rescaled by decoder norms)
    are refused with a clear error rather than loaded into different outputs."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise AlignlabError(f"{path}: not an SAE folder (expected {CONFIG} and {WEIGHTS})")
    try:
        cfg = json.loads((path / CONFIG).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AlignlabError(f"{path / CONFIG}: not valid UTF-8 JSON ({e})") from None
    saved = (cfg.get("metadata") or {}).get("alignlab_config")
    try:
        if saved is not None:
            fields = dict(saved)
            config = sae_config(fields.pop("architecture"), **fields)
        else:
            config = _config_from_saelens(path, cfg)
    except ValueError as e:
        raise AlignlabError(f"{path / CONFIG}: {e}") from None
    tensors = load_file(path / WEIGHTS)
    sae = build_sae(config)
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            if name not in tensors or tensors[name].shape != getattr(sae, name).shape:
                found = tuple(tensors[name].shape) if name in tensors else "missing"
                raise AlignlabError(
                    f"{path / WEIGHTS}: {name} has shape {found}, expected {tuple(getattr(sae, name).shape)}"
                )
            getattr(sae, name).copy_(tensors[name])
        if sae.threshold is not None:
            if "threshold" not in tensors:
                raise AlignlabError(
                    f"{path / WEIGHTS}: a {config.architecture} SAE needs its threshold tensor"
                )
            sae.load_threshold(tensors["threshold"])
    return sae.eval()


def _config_from_saelens(path: Path, cfg: dict) -> SAEConfig:
    by_saelens = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}
    if cfg.get("architecture") not in by_saelens:
        raise ValueError(
            f"architecture {cfg.get('architecture')!r} is not one alignlab reads ({', '.join(by_saelens)})"
        )
    normalize = cfg.get("normalize_activations", "none")
    if normalize not in ("none", None):
        raise ValueError(
            f"normalize_activations {normalize!r} scales inputs by a factor this folder does not hold; alignlab reads "
            "only SAEs with normalize_activations 'none' (fold the scale into the weights first)"
        )
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise ValueError(
            "rescale_acts_by_decoder_norm is not supported: the outputs would differ from SAELens's"
        )
    fields = dict(
        d_in=cfg["d_in"], d_sae=cfg["d_sae"], apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
        normalize_activations=False,
    )  # fmt: skip
    if cfg["architecture"] == "topk":
        fields["k"] = cfg.get("k", 32)
    return sae_config(by_saelens[cfg["architecture"]], **fields)
