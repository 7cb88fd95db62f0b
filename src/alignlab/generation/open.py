"""One way to get a Generator for an experiment's LLM roles: a local model, or an OpenAI-compatible
endpoint serving it."""

import os

from .base import Generator


def open_generator(
    model: str, *, endpoint: str | None = None, device="cpu", seed: int = 0, api_key: str | None = None
) -> Generator:
    """``endpoint=None``: load ``model`` here (any alignlab model name, folder or hub id) behind an
    ``HFGenerator``; otherwise send requests for ``model`` to the OpenAI-compatible ``endpoint`` (its base URL,
    e.g. ``http://127.0.0.1:8000/v1`` for ``alignlab serve``) with ``api_key`` (default: ``$ALIGNLAB_API_KEY``)."""
    if endpoint is not None:
        from .openai_http import OpenAIGenerator

        key = api_key or os.environ.get("ALIGNLAB_API_KEY") or "not-needed"
        return OpenAIGenerator(model, base_url=endpoint, api_key=key)
    from ..models import load_model
    from .hf import HFGenerator

    return HFGenerator(*load_model(model, device=device, seed=seed))
