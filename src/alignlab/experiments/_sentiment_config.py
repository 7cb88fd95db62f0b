"""The config fields shared by the sentiment-task experiments (light: no torch import)."""

from ..config import Count, LearningRate, NonNegativeCount
from .registry import ExperimentConfig


class SentimentConfig(ExperimentConfig):
    """Fields every sentiment-task experiment shares: the base model, its pre-training, the reward models
    trained on the task's pairs, and the evaluation."""

    d_model: Count = 64
    n_layers: Count = 2
    pretrain_steps: Count = 300
    """Next-token steps on the task's language: the base ("SFT") policy."""
    pretrain_lr: LearningRate = 3e-3
    pretrain_warmup_steps: NonNegativeCount = 20
    pretrain_batch_size: Count = 32
    rm_lr: LearningRate = 1e-3
    """Learning rate of every reward model trained on the task's pairs."""
    rm_batch_size: Count = 32
    completion_length: Count = 12
    n_eval_prompts: Count = 256


def increasing_sizes(sizes: list[int], field: str, what: str = "sizes") -> list[int]:
    """For a validator: at least two distinct ``sizes`` in increasing order, else an error naming ``field``."""
    if len(sizes) < 2 or sizes != sorted(set(sizes)):
        raise ValueError(f"{field} needs at least two distinct {what} in increasing order")
    return sizes
