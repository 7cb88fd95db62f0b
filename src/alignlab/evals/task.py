"""A Task is dataset + solvers + scorers (+ metrics, epochs), as in Inspect. Task factories are registered
by name with ``@task``; ``get_task(name, **args)`` builds one, refusing unknown names and arguments, and
the task records the arguments it was built with (they go into the log)."""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..errors import AlignlabError
from .samples import Sample
from .scorers import Scorer
from .solvers import Solver


@dataclass(frozen=True)
class Task:
    name: str
    dataset: Sequence[Sample]
    solver: Sequence[Solver]
    scorer: Sequence[Scorer]
    epochs: int = 1
    """Each sample is run this many times (scores are averaged per sample, then over samples)."""
    description: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    """The arguments the task's factory was called with (defaults filled in)."""
    version: int = 1
    dataset_name: str = ""

    def __post_init__(self) -> None:
        if not self.dataset:
            raise AlignlabError(f"task {self.name!r} has no samples")
        if not self.scorer:
            raise AlignlabError(f"task {self.name!r} has no scorer")
        if self.epochs < 1:
            raise AlignlabError(f"task {self.name!r}: epochs must be at least 1, got {self.epochs}")


TASKS: dict[str, Callable[..., Task]] = {}


def task(fn: Callable[..., Task]) -> Callable[..., Task]:
    """Register a task factory under its name with underscores as dashes (``over_refusal`` -> over-refusal)."""
    TASKS[fn.__name__.replace("_", "-")] = fn
    return fn


def registered_tasks() -> dict[str, Callable[..., Task]]:
    from . import builtin_tasks  # noqa: F401  (registers the built-in tasks)

    return dict(sorted(TASKS.items()))


def get_task(name: str, **args: Any) -> Task:
    """Build the task registered as ``name``; each argument is checked against the factory's annotations
    (a Literal's valid values are listed) before it runs."""
    factories = registered_tasks()
    if name not in factories:
        raise AlignlabError(f"unknown task {name!r}: use one of {', '.join(factories)}")
    factory = factories[name]
    signature = inspect.signature(factory)
    unknown = sorted(set(args) - set(signature.parameters))
    if unknown:
        valid = ", ".join(signature.parameters) or "none"
        raise AlignlabError(f"task {name!r} has no argument {unknown[0]!r} (its arguments: {valid})")
    bound = signature.bind(**args)
    bound.apply_defaults()
    try:
        built = pydantic.validate_call(factory)(**args)
    except pydantic.ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise AlignlabError(f"task {name!r}, argument {where}: {error['msg']}") from None
    except ValueError as e:
        raise AlignlabError(f"task {name!r}: {e}") from None
    return Task(**{**built.__dict__, "name": name, "args": dict(bound.arguments)})
