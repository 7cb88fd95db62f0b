"""Print README.md's experiment table from the newest finished run of each experiment under a runs folder.

    .venv/bin/python scripts/experiment_table.py runs/

One row per experiment in catalog order: the paper, the seeds the verdict pooled, the verdict with its
summary, and the slowest seed's time. Experiments without a finished run are listed as not run.
"""

import json
import sys
from pathlib import Path

from alignlab.experiments import catalog


def newest_results(root: Path) -> dict[str, dict]:
    newest: dict[str, dict] = {}
    for path in sorted(root.glob("*/results.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        if results.get("preset") == "cpu":
            newest[results["experiment"]] = results  # folder names sort by start time
    return newest


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def row(name: str, claim_paper: str, results: dict | None) -> str:
    if results is None:
        return f"| `{name}` | {claim_paper} | — | not run | — |"
    seeds = ", ".join(str(s["seed"]) for s in results["per_seed"])
    slowest = max(s["duration_s"] for s in results["per_seed"])
    verdict = results["verdict"].replace("_", " ")
    summary = results["summary"].replace("|", "/").replace("\n", " ")
    return f"| `{name}` | {claim_paper} | {seeds} | **{verdict}**: {summary} | {minutes(slowest)} |"


def main(root: str) -> None:
    runs = newest_results(Path(root))
    print("| name | paper | seeds | verdict here (pooled over the seeds) | slowest seed |")
    print("|---|---|---|---|---|")
    for name, exp in catalog().items():
        print(row(name, exp.claim.paper, runs.get(name)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs")
