"""What a running experiment shows: one rich progress display per run, on standard error.

The first line is the run itself (experiment, seed i of n, elapsed time, the time left once a seed has finished)
with the newest logged training step beside it; each phase an experiment names with ``ctx.progress`` gets a bar with
its own count and time left underneath. Everything shares one display, because rich allows only one at a time.
"""

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class RunDisplay:
    def __init__(self, experiment: str, seeds: list[int], console: Console | None = None) -> None:
        self.experiment, self.seeds = experiment, seeds
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}", style="dim"),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.run_task = self.progress.add_task(experiment, total=len(seeds), status="")

    def __enter__(self) -> "RunDisplay":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def seed_started(self, index: int) -> None:
        several = (
            f" · seed {self.seeds[index]} ({index + 1} of {len(self.seeds)})" if len(self.seeds) > 1 else ""
        )
        self.progress.update(self.run_task, description=f"{self.experiment}{several}", status="")

    def seed_finished(self) -> None:
        self.progress.advance(self.run_task)

    def logged(self, step: int, metrics: dict[str, Any]) -> None:
        """Show the newest logged step and its first few numbers beside the run's line."""
        shown = [
            f"{k} {_format(v)}" for k, v in metrics.items() if isinstance(v, int | float) and k != "seed"
        ][:3]
        self.progress.update(self.run_task, status=f"step {step}: " + ", ".join(shown))

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """A bar for one phase, removed when the phase ends."""
        task = self.progress.add_task(f"  {description}", total=total, status="")
        try:
            for item in items:
                yield item
                self.progress.advance(task)
        finally:
            self.progress.remove_task(task)
