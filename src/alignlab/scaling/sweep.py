"""A resumable, parallel-safe sweep: run a function once per point of a grid, keeping each result as a JSON file.

Each point is a JSON-able dict (model size, tokens, seed, everything that changes the result); its file is named
by a hash of the point, so a finished point is never run twice: re-running a sweep after a crash or Ctrl-C only
runs what is missing, and a changed setting is a new point. Several processes (or machines sharing a folder) may run
the same sweep at once: a process claims a point by creating ``<key>.lock`` exclusively, writes the result to a
temporary file and renames it into place, then removes the lock; the others skip claimed points and wait for their
results. A lock left by a process that died on this host is taken over.
"""

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

Point = dict[str, Any]


def point_key(point: Point) -> str:
    return hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()[:16]


def _claim(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid()}, f)
    return True


def _holder_is_dead(lock: Path) -> bool:
    try:
        holder = json.loads(lock.read_text())
    except (OSError, ValueError):
        return False  # being written: its holder is alive
    if holder.get("host") != socket.gethostname():
        return False  # cannot tell; a lock from another machine is trusted
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_sweep(
    points: Sequence[Point],
    run_point: Callable[[Point], dict[str, Any]],
    folder: Path,
    *,
    progress: Callable[[Iterable[Point], int], Iterable[Point]] | None = None,
    poll_seconds: float = 1.0,
) -> list[dict[str, Any]]:
    """``run_point(point)`` for every point without a result in ``folder``; returns every point's result, in the
    order of ``points``, each with the point under ``"point"`` and ``"cached": True`` where it was read back."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [point_key(p) for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError("the sweep lists the same point twice")
    results: dict[str, dict[str, Any]] = {}

    def read(key: str) -> dict[str, Any] | None:
        path = folder / f"{key}.json"
        return json.loads(path.read_text()) if path.exists() else None

    pending = list(zip(keys, points, strict=True))
    ticks = iter((progress or (lambda items, total: items))(range(len(points)), len(points)))
    while pending:
        waiting = []
        for key, point in pending:
            if (done := read(key)) is not None:
                results[key] = {**done, "cached": True}
                next(ticks, None)
                continue
            lock = folder / f"{key}.lock"
            if not _claim(lock):
                if _holder_is_dead(lock):
                    lock.unlink(missing_ok=True)
                waiting.append((key, point))
                continue
            try:
                done = read(key)  # another process may have finished it between our read and our claim
                cached = done is not None
                if done is None:
                    done = {**run_point(point), "point": point}
                    tmp = folder / f".{key}.{os.getpid()}.tmp"
                    tmp.write_text(json.dumps(done))
                    os.replace(tmp, folder / f"{key}.json")
                results[key] = {**done, "cached": cached}
                next(ticks, None)
            finally:
                lock.unlink(missing_ok=True)
        pending = waiting
        if pending:
            time.sleep(poll_seconds)
    return [results[k] for k in keys]
