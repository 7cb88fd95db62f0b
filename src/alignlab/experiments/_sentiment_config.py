"""The config fields shared by the sentiment-task experiments (light: no torch import)."""

from .registry import ExperimentConfig


class SentimentConfig(ExperimentConfig):
    """Fields every sentiment-task experiment shares: the base model and the evaluation."""

    d_model: int = 64
    n_layers: int = 2
    pretrain_steps: int = 300
    """Next-token steps on the task's language: the base ("SFT") policy."""
    completion_length: int = 12
    n_eval_prompts: int = 256
