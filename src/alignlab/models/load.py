"""One entry point to get ``(model, tokenizer)`` from a name, a folder or a hub id."""

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..data.synthetic import MarkovLanguage
from ..errors import AlignlabError
from . import embedded
from .names import DEFAULT_MODEL, HUB_ID, check_model_name
from .tokenizers import word_tokenizer
from .toy import TOY_MODELS, build_toy_model


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; anything else must be available as asked."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise AlignlabError(
            f"--device {device!r} is not a device (use auto, cpu, cuda, cuda:N or mps)"
        ) from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise AlignlabError(f"--device {device}: CUDA is not available on this machine (use cpu or auto)")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise AlignlabError(f"--device {device}: MPS is not available on this machine (use cpu or auto)")
    return resolved


def toy_tokenizer() -> PreTrainedTokenizerBase:
    """The tokenizer of the named toy models: the words of the default synthetic language."""
    return word_tokenizer(MarkovLanguage().words)


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a model in eval mode, with a tokenizer that has a pad token.

    ``name`` is, in order: the embedded default (``smollm2-135m-instruct``), a toy model name (a fresh
    random init from ``seed``), a local Hugging Face folder, or a hub id (needs the network).
    ``dtype`` defaults to float32 on the CPU and bfloat16 on CUDA.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    if name == DEFAULT_MODEL:
        model, tokenizer = _from_pretrained(embedded.ensure_converted(), dtype)
    elif name in TOY_MODELS:
        tokenizer = toy_tokenizer()
        model = build_toy_model(TOY_MODELS[name], tokenizer, seed=seed).to(dtype)
    elif Path(name).expanduser().exists():
        model, tokenizer = _from_folder(Path(name).expanduser(), dtype)
    elif HUB_ID.match(name):
        try:
            model, tokenizer = _from_pretrained(name, dtype)
        except OSError as e:
            raise AlignlabError(
                f"could not load {name!r} from the Hugging Face hub ({str(e).splitlines()[0]}); "
                "without network access, download it elsewhere and pass its folder"
            ) from e
    else:
        check_model_name(name)

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def _from_folder(folder: Path, dtype: torch.dtype):
    """A local Hugging Face folder; a broken one is an error naming the folder and what is wrong in it."""
    if not folder.is_dir():
        raise AlignlabError(
            f"{folder} is a file; a model is a Hugging Face folder (config.json, weights, tokenizer)"
        )
    if not (folder / "config.json").is_file():
        raise AlignlabError(f"{folder} is not a Hugging Face model folder: it has no config.json")
    try:
        return _from_pretrained(folder, dtype)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AlignlabError(f"{folder}: could not load the model ({first_line})") from e


def _from_pretrained(source: str | Path, dtype: torch.dtype):
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    return model, tokenizer
