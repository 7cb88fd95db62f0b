"""Experiments as data: a claim, a config class, presets, and a function that runs it.

``@experiment(...)`` turns a function ``fn(config, ctx) -> Outcome`` into an ``Experiment`` (it registers
nothing on import); ``catalog.py`` lists the modules that make up the catalog. A config is a frozen
pydantic model whose fields are the experiment's arguments: a preset is a set of field values, and the
resolved config is written into every run folder, so any run can be re-created from it.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import AlignlabError
from ..reporting import Claim, Figure, RunFolder, Section, Verdict

if TYPE_CHECKING:
    import torch


class ExperimentConfig(BaseModel):
    """Base of every experiment's config: frozen, and unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass
class Outcome:
    """What an experiment function returns; the runner turns it into results.json and the report."""

    measured: dict[str, Any]
    verdict: Verdict
    summary: str
    paper_figures: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


T = TypeVar("T")


@dataclass
class RunContext:
    """What an experiment gets besides its config: where to write, on which device, with which seed."""

    run: RunFolder
    device: "torch.device"
    seed: int
    preset: str
    show_progress: bool = True

    def log(self, step: int, **metrics: float) -> None:
        self.run.log_metrics(step, **metrics)

    def figure(self, fig, name: str, caption: str = "") -> Figure:
        return self.run.save_figure(fig, name, caption)

    def progress(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        if not self.show_progress:
            yield from items
            return
        from rich.progress import track

        yield from track(items, description=description, total=total, transient=True)


ExperimentFn = Callable[[Any, RunContext], Outcome]


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: Claim
    config_cls: type[ExperimentConfig]
    presets: dict[str, dict[str, Any]]
    fn: ExperimentFn
    description: str = ""

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
    name: str, *, claim: Claim, config: type[ExperimentConfig], presets: dict[str, dict[str, Any]]
) -> Callable[[ExperimentFn], Experiment]:
    """Declare an experiment. Presets must include ``cpu`` (the default) and must each be valid."""
    if "cpu" not in presets:
        raise ValueError(f"experiment {name!r} needs a 'cpu' preset")

    def wrap(fn: ExperimentFn) -> Experiment:
        exp = Experiment(name, claim, config, presets, fn, (fn.__doc__ or "").strip().split("\n")[0])
        for preset in presets:
            exp.resolve(preset)  # a broken preset fails at import, not in a user's run
        return exp

    return wrap
