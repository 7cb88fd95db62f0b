"""The SAE architectures by name. Adding one is a new module here (its config, its activation rule, its
auxiliary loss) and one line in ``SAE_ARCHITECTURES``; the trainer, metrics and file format are generic."""

from typing import Any

from pydantic import ValidationError

from ..config import SAEConfig
from ..model import SparseAutoencoder
from .batchtopk import BatchTopKConfig, BatchTopKSAE
from .jumprelu import JumpReLUConfig, JumpReLUSAE
from .relu import ReLUConfig, ReLUSAE
from .topk import TopKConfig, TopKSAE, aux_k_loss

SAE_ARCHITECTURES: dict[str, type[SparseAutoencoder]] = {
    "relu": ReLUSAE,
    "topk": TopKSAE,
    "batchtopk": BatchTopKSAE,
    "jumprelu": JumpReLUSAE,
}


def architecture_class(name: str) -> type[SparseAutoencoder]:
    if name not in SAE_ARCHITECTURES:
        raise ValueError(f"unknown SAE architecture {name!r}; architectures: {', '.join(SAE_ARCHITECTURES)}")
    return SAE_ARCHITECTURES[name]


def sae_config(architecture: str = "topk", **fields: Any) -> SAEConfig:
    """The config of ``architecture`` with ``fields``; a field that architecture lacks is an error naming it."""
    return architecture_class(architecture).config_class(**fields)


def build_sae(config: SAEConfig | dict[str, Any], *, seed: int = 0) -> SparseAutoencoder:
    """A freshly initialised SAE of the config's architecture (a plain dict is validated first)."""
    if isinstance(config, dict):
        fields = dict(config)
        try:
            config = sae_config(fields.pop("architecture", "topk"), **fields)
        except ValidationError as e:
            raise ValueError(str(e)) from None
    return architecture_class(config.architecture)(config, seed=seed)


__all__ = [
    "SAE_ARCHITECTURES",
    "BatchTopKConfig",
    "BatchTopKSAE",
    "JumpReLUConfig",
    "JumpReLUSAE",
    "ReLUConfig",
    "ReLUSAE",
    "TopKConfig",
    "TopKSAE",
    "architecture_class",
    "aux_k_loss",
    "build_sae",
    "sae_config",
]
