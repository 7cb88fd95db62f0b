"""A run folder: ``runs/<experiment>-<timestamp>/`` with the resolved config, ``metrics.jsonl``,
``results.json``, ``plots/*.png``, ``report.md`` and ``report.html``.

Folders are never reused: a name that exists gets a numeric suffix, and writing results into a folder that
already holds them raises, so a finished run is never overwritten.
"""

import json
import time
from pathlib import Path
from typing import Any

from ..errors import AlignlabError
from .atomic import strict_json, write_bytes_atomic, write_json_atomic, write_text_atomic
from .report import Figure, Section, render_html, render_markdown
from .results import Results


def ensure_writable(root: Path) -> Path:
    """Create ``root`` if needed and check that files can be written there; one clear error otherwise."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{time.time_ns()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise AlignlabError(f"cannot write to the output folder {root}: {e.strerror or e}") from e
    return root


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, root: Path, experiment: str) -> "RunFolder":
        ensure_writable(root)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            path = root / (f"{experiment}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                path.mkdir()
            except FileExistsError:
                continue
            (path / "plots").mkdir()
            return cls(path)
        raise AlignlabError(f"could not find a free run-folder name under {root}")

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return (self.path / "results.json").exists()

    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.path / "config.json", config)

    def log_metrics(self, step: int, **metrics: float) -> None:
        """Append one JSON line; each line is written whole with a single write."""
        record = strict_json({"step": step, "time": round(time.time(), 3), **metrics})
        line = json.dumps(record, allow_nan=False) + "\n"
        with (self.path / "metrics.jsonl").open("a") as f:
            f.write(line)

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def write_jsonl(self, name: str, rows: list[dict[str, Any]], folder: Path | None = None) -> Path:
        """Write a dataset the run produced (e.g. SFT or preference records) as ``<name>.jsonl`` in the run
        folder (or ``folder``), as strict JSON (NaN and infinities become null)."""
        path = (folder or self.path) / f"{name}.jsonl"
        write_text_atomic(path, "".join(json.dumps(strict_json(row), allow_nan=False) + "\n" for row in rows))
        return path

    def save_figure(self, fig, name: str, caption: str = "") -> Figure:
        """Save a matplotlib figure as ``plots/<name>.png`` and close it."""
        import io

        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        relative = f"plots/{name}.png"
        write_bytes_atomic(self.path / relative, buffer.getvalue())
        return Figure(relative, caption)

    def write_results(self, results: Results, sections: list[Section]) -> None:
        if self.finished:
            raise AlignlabError(f"{self.path} already holds a finished run; it is never overwritten")
        write_text_atomic(self.path / "report.md", render_markdown(results, sections))
        write_text_atomic(self.path / "report.html", render_html(results, sections, self.path))
        write_json_atomic(self.path / "results.json", results.model_dump())  # last: marks the run finished
