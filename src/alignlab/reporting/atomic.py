"""Atomic file writes: write beside the target, then rename, so a reader never sees half a file."""

import json
import math
import os
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (and numpy scalars and arrays made plain),
    so that ``json.dumps(..., allow_nan=False)`` writes standard JSON that every parser reads."""
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # numpy / torch scalars and arrays
        return strict_json(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: Path, obj: Any) -> None:
    """Standard JSON: NaN and infinities are written as null, anything else unknown as its string."""
    text = json.dumps(strict_json(obj), indent=2, default=str, allow_nan=False)
    write_text_atomic(path, text + "\n")
