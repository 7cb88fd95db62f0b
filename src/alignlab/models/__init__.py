"""Models: the embedded default, toy models, any local folder or hub id — all as ``(model, tokenizer)``.

Names resolve lazily, so ``from alignlab.models import check_model_name`` does not import torch.
"""

import importlib

_EXPORTS = {
    "EMBEDDED_MODEL": "embedded",
    "DEFAULT_MODEL": "names",
    "ModelInfo": "names",
    "available_models": "names",
    "check_model_name": "names",
    "load_model": "load",
    "resolve_device": "load",
    "toy_tokenizer": "load",
    "word_tokenizer": "tokenizers",
    "TOY_MODELS": "toy",
    "ToyModelConfig": "toy",
    "build_toy_model": "toy",
    "add_lora": "lora",
    "load_qlora": "lora",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
