"""Running an experiment into a run folder, with the run recorded in the output folder's index."""

import platform
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..reporting import Results, RunFolder, RunIndex, ensure_writable
from .catalog import get_experiment
from .registry import RunContext


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run_experiment(
    name: str,
    *,
    preset: str = "cpu",
    seed: int = 0,
    out: Path = Path("runs"),
    device: str = "auto",
    overrides: dict[str, Any] | None = None,
    show_progress: bool = True,
) -> RunFolder:
    """Validate everything (experiment, preset, config, device, output folder) before writing anything,
    then run. A failed run stays on disk, marked failed in the index, and the error is re-raised."""
    import transformers

    from ..models import resolve_device

    exp = get_experiment(name)
    config = exp.resolve(preset, overrides)
    torch_device = resolve_device(device)
    ensure_writable(out)

    run = RunFolder.create(out, exp.name)
    started_at, start = _now(), time.perf_counter()
    run.write_config(
        {
            "experiment": exp.name,
            "preset": preset,
            "seed": seed,
            "device": str(torch_device),
            "config": config.model_dump(),
            "alignlab_version": __version__,
            "python": platform.python_version(),
        }
    )
    index = RunIndex(out)
    index.started(run.name, exp.name, preset, seed, str(torch_device), started_at)
    transformers.set_seed(seed)
    try:
        outcome = exp.fn(config, RunContext(run, torch_device, seed, preset, show_progress))
        results = Results(
            experiment=exp.name,
            preset=preset,
            seed=seed,
            device=str(torch_device),
            claim=exp.claim,
            paper_figures=outcome.paper_figures,
            measured=outcome.measured,
            verdict=outcome.verdict,
            summary=outcome.summary,
            started_at=started_at,
            finished_at=_now(),
            duration_s=round(time.perf_counter() - start, 2),
            alignlab_version=__version__,
        )
        run.write_results(results, outcome.sections)
    except BaseException as e:
        index.failed(run.name, f"{type(e).__name__}: {e}")
        raise
    index.finished(run.name, results)
    return run
