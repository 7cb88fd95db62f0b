"""What a run was made with: library versions and the exact alignlab source, for ``config.json``."""

import functools
import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "transformers", "accelerate", "peft", "numpy", "scikit-learn")


def versions() -> dict[str, str]:
    """Python's and the main libraries' versions (``"not installed"`` where one is missing)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@functools.cache
def source_revision() -> str:
    """``git:<commit>`` (``+dirty`` with uncommitted changes to the package) when alignlab runs from a git
    checkout, else ``sha256:<digest>`` of its Python sources, so that two runs can be told apart either way."""
    package = Path(__file__).resolve().parents[1]
    try:
        commit = _git(package, "rev-parse", "HEAD")
        dirty = _git(package, "status", "--porcelain", "--", str(package))
        return f"git:{commit}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
        return f"sha256:{digest.hexdigest()[:16]}"


def _git(folder: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=True
    )
    return out.stdout.strip()
