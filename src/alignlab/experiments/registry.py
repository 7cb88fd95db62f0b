"""Experiments as data: a claim, a config class, presets, a function that measures, and one that decides.

An experiment is measure -> decide -> report. ``@experiment(...)`` turns a function
``measure(config, ctx) -> Measurement`` into an ``Experiment`` (it registers nothing on import); the
``decide`` it is given turns the typed records of one or more seeds into a verdict (see ``verdict.py``).
``catalog.py`` lists the modules that make up the catalog. A config is a frozen pydantic model whose fields
are the experiment's arguments: a preset is a set of field values, and the resolved config is written into
every run folder, so any run can be re-created from it.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError, field_validator

from ..config import FrozenConfig
from ..errors import AlignlabError
from ..models import DEFAULT_MODEL, check_model_name
from ..reporting import Claim, Figure, RunFolder, Section
from ..reporting.tracking import TensorBoardTracker
from .verdict import DecideFn, Record

if TYPE_CHECKING:
    import torch

    from .live import RunDisplay


class ExperimentConfig(FrozenConfig):
    """Base of every experiment's config: frozen, unknown fields are errors, and NaN or infinite numbers
    are refused; fields use the bounded types of ``alignlab.config``."""


class ModelConfig(ExperimentConfig):
    """The config of an experiment on one named model, whose name is checked before a run starts, without
    loading anything. Subclasses may redeclare ``model`` with their own default and docstring."""

    model: str = DEFAULT_MODEL
    """An alignlab model name, a Hugging Face folder or a hub id."""

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return check_model_name(name)


@dataclass
class Measurement:
    """What an experiment's measure function returns for one seed: the typed record the verdict is decided
    from, and the report's sections for that seed."""

    record: Record
    sections: list[Section] = field(default_factory=list)


T = TypeVar("T")


@dataclass
class RunContext:
    """What an experiment gets besides its config: where to write, on which device, with which seed.

    With several seeds in one run, each seed's files go into ``seed-<s>/`` and its plots are named
    ``plots/seed-<s>-<name>.png``; with one seed both sit in the run folder itself."""

    run: RunFolder
    device: "torch.device"
    seed: int
    preset: str
    display: "RunDisplay | None" = None
    """The run's live progress display (None: show nothing)."""
    several_seeds: bool = False
    tracker: TensorBoardTracker | None = None
    """Also sends every logged series to TensorBoard (``--tensorboard``)."""

    @property
    def path(self) -> Path:
        """The folder for this seed's files (created on first use)."""
        if not self.several_seeds:
            return self.run.path
        folder = self.run.path / f"seed-{self.seed}"
        folder.mkdir(exist_ok=True)
        return folder

    def log(self, step: int, **metrics: Any) -> None:
        self.run.log_metrics(step, **({"seed": self.seed} if self.several_seeds else {}), **metrics)
        if self.tracker is not None:
            self.tracker.log(self.seed, step, metrics)
        if self.display is not None:
            self.display.logged(step, metrics)

    def logger(self, prefix: str) -> Callable[[int, dict[str, Any]], None]:
        """An ``on_log(step, record)`` for a training loop that logs each metric as ``<prefix>_<name>``."""

        def log(step: int, record: dict[str, Any]) -> None:
            self.log(step, **{f"{prefix}_{k}": v for k, v in record.items()})

        return log

    def figure(self, fig, name: str, caption: str = "") -> Figure:
        return self.run.save_figure(fig, f"seed-{self.seed}-{name}" if self.several_seeds else name, caption)

    def write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        """Write a dataset the run produced (e.g. SFT or preference records) as ``<name>.jsonl``."""
        return self.run.write_jsonl(name, rows, folder=self.path)

    def progress(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """``items``, shown as a phase of the run (a bar with a count and the time left) while they are consumed."""
        if self.display is None:
            yield from items
            return
        yield from self.display.track(items, description, total)


MeasureFn = Callable[[Any, RunContext], Measurement]


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: Claim
    config_cls: type[ExperimentConfig]
    presets: dict[str, dict[str, Any]]
    fn: MeasureFn
    decide: DecideFn
    description: str = ""
    """Records of one or more seeds -> Decision."""
    paper_figures: dict[str, Any] = field(default_factory=dict)
    seeded: bool = True
    """False for a deterministic experiment (greedy decoding, fixed inputs): the seed changes nothing, so a
    run takes one seed (pooling copies of one measurement would fake a larger sample)."""

    def resolve(self, preset: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        """The config for ``preset`` with ``overrides`` on top; a bad name or value is one clear error."""
        if preset not in self.presets:
            raise AlignlabError(
                f"experiment {self.name!r} has no preset {preset!r}; presets: {', '.join(self.presets)}"
            )
        values = {**self.presets[preset], **(overrides or {})}
        try:
            return self.config_cls(**values)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors()
            )
            fields = ", ".join(self.config_cls.model_fields)
            raise AlignlabError(f"invalid config for {self.name!r}: {problems} (fields: {fields})") from None


def experiment(
    name: str,
    *,
    claim: Claim,
    config: type[ExperimentConfig],
    presets: dict[str, dict[str, Any]],
    decide: DecideFn,
    paper_figures: dict[str, Any] | None = None,
    seeded: bool = True,
) -> Callable[[MeasureFn], Experiment]:
    """Declare an experiment. Presets must include ``cpu`` (the default) and must each be valid."""
    if "cpu" not in presets:
        raise ValueError(f"experiment {name!r} needs a 'cpu' preset")

    def wrap(fn: MeasureFn) -> Experiment:
        description = (fn.__doc__ or "").strip().split("\n")[0]
        exp = Experiment(name, claim, config, presets, fn, decide, description, paper_figures or {}, seeded)
        for preset in presets:
            exp.resolve(preset)  # a broken preset fails at import, not in a user's run
        return exp

    return wrap
