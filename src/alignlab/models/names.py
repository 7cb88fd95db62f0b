"""What can be named as a model, checked without importing torch or transformers (configs validate their
``model`` field with ``check_model_name`` before a run starts)."""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import AlignlabError
from . import embedded
from .toy import TOY_MODELS

DEFAULT_MODEL = embedded.EMBEDDED_MODEL
EMBEDDED_BLOCKS = 30
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: Literal["embedded", "toy"]
    description: str
    location: str
    """Where the weights live, or how they are made."""


def available_models() -> list[ModelInfo]:
    """The models known by name (any HF folder or hub id loads too)."""
    try:
        gguf = embedded.embedded_gguf_path()
        cached = embedded.converted_dir(gguf)
        where = str(cached) if cached.is_dir() else f"{gguf} (converted on first load)"
    except AlignlabError:
        where = f"not installed: {embedded.INSTALL_COMMAND}"
    infos = [
        ModelInfo(
            DEFAULT_MODEL,
            "embedded",
            f"SmolLM2-135M-Instruct, {EMBEDDED_BLOCKS} layers, d_model 576 (default)",
            where,
        )
    ]
    for name, cfg in TOY_MODELS.items():
        shape = f"{cfg.arch}, {cfg.n_layers} layers, d_model {cfg.d_model}"
        infos.append(ModelInfo(name, "toy", f"random init, {shape}", "built in memory from its config"))
    return infos


def check_model_name(name: str) -> str:
    """Return ``name`` if ``load_model`` could resolve it, else raise naming the valid choices. Cheap:
    nothing is loaded, so configs can check their model before a run starts."""
    if name == DEFAULT_MODEL or name in TOY_MODELS or Path(name).expanduser().exists() or HUB_ID.match(name):
        return name
    valid = ", ".join(info.name for info in available_models())
    raise AlignlabError(f"unknown model {name!r}: use one of {valid}, a model folder, or a hub id (org/name)")


def block_count(name: str) -> int | None:
    """How many transformer blocks ``name`` has, read without loading weights: known for the embedded and toy
    models and for a folder with a ``config.json``; None for a hub id (its config is not on disk)."""
    if name == DEFAULT_MODEL:
        return EMBEDDED_BLOCKS
    if name in TOY_MODELS:
        return TOY_MODELS[name].n_layers
    config = Path(name).expanduser() / "config.json"
    if config.is_file():
        fields = json.loads(config.read_text())
        for key in ("num_hidden_layers", "n_layer", "num_layers"):
            if isinstance(fields.get(key), int):
                return fields[key]
    return None
