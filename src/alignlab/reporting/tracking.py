"""Every series a run logs, also sent to TensorBoard (``alignlab run --tensorboard``): one event folder per seed,
``<run>/tensorboard/seed-<s>/``, so ``tensorboard --logdir runs`` shows runs and seeds side by side."""

import math
from pathlib import Path
from typing import Any

from ..errors import AlignlabError


def require_tensorboard() -> None:
    """Fail before a run starts when TensorBoard cannot be written."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise AlignlabError(
            "--tensorboard needs the tensorboard package: pip install 'alignlab[tensorboard]'"
        ) from None


class TensorBoardTracker:
    def __init__(self, run_path: Path) -> None:
        require_tensorboard()
        self.root = run_path / "tensorboard"
        self.writers: dict[int, Any] = {}

    def log(self, seed: int, step: int, metrics: dict[str, Any]) -> None:
        """Each finite number in ``metrics`` as a scalar named by its key at ``step``; other values are skipped."""
        if seed not in self.writers:
            from torch.utils.tensorboard import SummaryWriter

            self.writers[seed] = SummaryWriter(str(self.root / f"seed-{seed}"))
        writer = self.writers[seed]
        for key, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                writer.add_scalar(key, value, step)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
