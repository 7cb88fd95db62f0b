"""Where alignlab keeps what it builds once and reuses (converted models)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$ALIGNLAB_CACHE``, else ``$XDG_CACHE_HOME/alignlab``, else ``~/.cache/alignlab``."""
    if env := os.environ.get("ALIGNLAB_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "alignlab"
