"""The experiment catalog: named, preset, reproducible runs of the field's findings."""

from .catalog import catalog, get_experiment
from .registry import Experiment, ExperimentConfig, Measurement, RunContext, experiment
from .runner import run_experiment
from .verdict import Decision, Record

__all__ = [
    "Decision",
    "Experiment",
    "ExperimentConfig",
    "Measurement",
    "Record",
    "RunContext",
    "catalog",
    "experiment",
    "get_experiment",
    "run_experiment",
]
