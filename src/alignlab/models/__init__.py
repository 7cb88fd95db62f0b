"""Models: the embedded default, toy models, any local folder or hub id — all as ``(model, tokenizer)``.

Names resolve lazily, so ``from alignlab.models import check_model_name`` does not import torch.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "EMBEDDED_MODEL": "embedded",
    "DEFAULT_MODEL": "names",
    "ModelInfo": "names",
    "available_models": "names",
    "check_model_name": "names",
    "block_count": "names",
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
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
