"""Training: one shared loop; algorithms are step functions."""

from .early_stopping import EarlyStopping
from .loop import LoopHooks, LossOutput, Progress, RunOptions, StepFn, TrainConfig, causal_lm_step, train

__all__ = [
    "EarlyStopping",
    "LoopHooks",
    "LossOutput",
    "Progress",
    "RunOptions",
    "StepFn",
    "TrainConfig",
    "causal_lm_step",
    "train",
]
