"""Training: one shared loop; algorithms are step functions."""

from .loop import LossOutput, Progress, RunOptions, StepFn, TrainConfig, causal_lm_step, train

__all__ = ["LossOutput", "Progress", "RunOptions", "StepFn", "TrainConfig", "causal_lm_step", "train"]
