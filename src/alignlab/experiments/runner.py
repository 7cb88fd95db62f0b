"""Running an experiment into a run folder: every seed measured, one verdict decided on them all, the run
recorded in the output folder's index."""

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import AlignlabError
from ..reporting import Results, RunFolder, RunIndex, Section, ensure_writable
from ..reporting.provenance import source_revision, versions
from ..reporting.results import SeedResult
from ..reporting.tracking import TensorBoardTracker, require_tensorboard
from .catalog import get_experiment
from .live import RunDisplay
from .registry import Experiment, ExperimentConfig, Measurement, RunContext
from .verdict import decide_over_seeds

MAX_SEED = 2**32


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """Distinct integers in [0, 2**32): numpy and torch seeds both accept these."""
    seeds = list(seeds)
    if not seeds:
        raise AlignlabError("--seeds: give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
            raise AlignlabError(f"--seed: {seed!r} is not an integer in [0, 2**32)")
    if len(set(seeds)) != len(seeds):
        raise AlignlabError(f"--seeds: {seeds} repeats a seed")
    return seeds


def run_experiment(
    name: str,
    *,
    preset: str = "cpu",
    seeds: Sequence[int] = (0,),
    out: str | Path = Path("runs"),
    device: str = "auto",
    overrides: dict[str, Any] | None = None,
    show_progress: bool = True,
    on_start: Callable[[RunFolder], None] | None = None,
    tensorboard: bool = False,
) -> RunFolder:
    """Validate everything (experiment, preset, config, seeds, device, output folder) before writing
    anything, then measure each seed and decide one verdict on all of them. ``on_start`` is called with the run
    folder once it exists (before anything is measured). ``tensorboard`` also sends every logged series to
    TensorBoard (``<run>/tensorboard/``). A failed run stays on disk, marked failed in the index
    (``interrupted`` after Ctrl-C), and the error is re-raised."""
    exp = get_experiment(name)
    config = exp.resolve(preset, overrides)
    seeds = check_seeds(seeds)
    if len(seeds) > 1 and not exp.seeded:
        raise AlignlabError(
            f"--seeds: {exp.name!r} is deterministic (the seed changes nothing it measures); run one seed"
        )
    from ..models import resolve_device

    torch_device = resolve_device(device)
    if tensorboard:
        require_tensorboard()
    out = Path(out)
    ensure_writable(out)

    run = RunFolder.create(out, exp.name)
    started_at, start = _now(), time.perf_counter()
    run.write_config(
        {
            "experiment": exp.name,
            "preset": preset,
            "seeds": seeds,
            "device": str(torch_device),
            "started_at": started_at,
            "config": config.model_dump(),
            "alignlab_version": __version__,
            "source_revision": source_revision(),
            "versions": versions(),
        }
    )
    index = RunIndex(out)
    index.started(run.name, exp.name, preset, seeds, str(torch_device), started_at)
    tracker = None
    try:  # from here on, Ctrl-C (even while the run folder is being announced) marks the run interrupted
        if on_start is not None:
            on_start(run)
        tracker = TensorBoardTracker(run.path) if tensorboard else None
        results, sections = _measure_and_decide(
            exp, config, run, seeds, torch_device, preset, show_progress, tracker
        )
        results = results.model_copy(
            update=dict(
                started_at=started_at, finished_at=_now(), duration_s=round(time.perf_counter() - start, 2)
            )
        )
        run.write_results(results, sections)
    except KeyboardInterrupt:
        index.failed(run.name, "interrupted by the user (Ctrl-C)", status="interrupted")
        raise
    except BaseException as e:
        index.failed(run.name, f"{type(e).__name__}: {e}")
        raise
    finally:
        if tracker is not None:
            tracker.close()
    index.finished(run.name, results)
    return run


def _measure_and_decide(
    exp: Experiment,
    config: ExperimentConfig,
    run: RunFolder,
    seeds: list[int],
    device,
    preset: str,
    show_progress: bool,
    tracker: TensorBoardTracker | None = None,
) -> tuple[Results, list[Section]]:
    import transformers

    several = len(seeds) > 1
    measurements: list[Measurement] = []
    durations: list[float] = []
    display = RunDisplay(exp.name, seeds) if show_progress else None
    with display or contextlib.nullcontext():
        for i, seed in enumerate(seeds):
            transformers.set_seed(seed)
            start = time.perf_counter()
            if display:
                display.seed_started(i)
            measurement = exp.fn(config, RunContext(run, device, seed, preset, display, several, tracker))
            durations.append(round(time.perf_counter() - start, 2))
            measurements.append(measurement)
            if display:
                display.seed_finished()

    pooled, per_seed = decide_over_seeds(exp.decide, [m.record for m in measurements])
    sections: list[Section] = []
    for seed, m in zip(seeds, measurements, strict=True):
        sections += [Section(f"Seed {seed}: {s.title}", s.blocks) if several else s for s in m.sections]
    results = Results(
        experiment=exp.name,
        preset=preset,
        seeds=seeds,
        device=str(device),
        claim=exp.claim,
        paper_figures=exp.paper_figures,
        measured=pooled.figures,
        verdict=pooled.verdict,
        reasons=list(pooled.reasons),
        summary=pooled.summary,
        per_seed=[
            SeedResult(
                seed=seed,
                verdict=d.verdict,
                summary=d.summary,
                measured=d.figures,
                record=m.record.model_dump(),
                duration_s=duration,
            )
            for seed, d, m, duration in zip(seeds, per_seed, measurements, durations, strict=True)
        ],
        started_at="",
        finished_at="",
        duration_s=0.0,
        alignlab_version=__version__,
        source_revision=source_revision(),
    )
    return results, sections
