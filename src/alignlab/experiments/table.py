"""The catalog's table of verdicts, built from run folders: what README.md shows and `alignlab catalog` writes.

One row per experiment in catalog order: the paper, the seeds the verdict pooled, the verdict with its summary,
and the slowest seed's time, from the newest finished run of that experiment (and preset) under a runs folder.
Experiments without one are listed as not run.
"""

import json
from pathlib import Path

from .catalog import catalog

HEADER = (
    "| name | paper | seeds | verdict here (pooled over the seeds) | slowest seed |\n|---|---|---|---|---|"
)


def newest_results(root: Path, preset: str = "cpu") -> dict[str, dict]:
    """experiment name -> the results.json of its newest finished run with ``preset`` (folder names sort by
    start time)."""
    newest: dict[str, dict] = {}
    for path in sorted(Path(root).glob("*/results.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        if results.get("preset") == preset:
            newest[results["experiment"]] = results
    return newest


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def table_row(name: str, paper: str, results: dict | None) -> str:
    if results is None:
        return f"| `{name}` | {paper} | — | not run | — |"
    seeds = ", ".join(str(s["seed"]) for s in results["per_seed"])
    slowest = max(s["duration_s"] for s in results["per_seed"])
    verdict = results["verdict"].replace("_", " ")
    summary = results["summary"].replace("|", "/").replace("\n", " ")
    return f"| `{name}` | {paper} | {seeds} | **{verdict}**: {summary} | {duration(slowest)} |"


def catalog_table(root: Path, preset: str = "cpu", only: list[str] | None = None) -> str:
    """The markdown table over the runs under ``root`` (every experiment, or those in ``only``)."""
    runs = newest_results(root, preset)
    rows = [table_row(name, exp.claim.paper, runs.get(name)) for name, exp in catalog().items()
            if only is None or name in only]  # fmt: skip
    return "\n".join([HEADER, *rows]) + "\n"
