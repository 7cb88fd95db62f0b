"""The experiment catalog: named, preset, reproducible runs of the field's findings."""

from .catalog import catalog, get_experiment
from .registry import Experiment, ExperimentConfig, Outcome, RunContext, experiment
from .runner import run_experiment

__all__ = [
    "Experiment",
    "ExperimentConfig",
    "Outcome",
    "RunContext",
    "catalog",
    "experiment",
    "get_experiment",
    "run_experiment",
]
