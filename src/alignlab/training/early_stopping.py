"""Early stopping on a held-out objective, as a ``LoopHooks.after_step`` callback.

Training length then follows a criterion the experiment's verdict never scores (the validation objective of
the network's own training loss), instead of a step count picked by looking at the test result.
"""

import copy
from collections.abc import Callable

import torch


class EarlyStopping:
    """Every ``every`` steps, evaluate ``objective(model)`` (lower is better) on held-out data and keep a
    copy of the best weights; ask the loop to stop once ``patience`` steps pass without an improvement of
    more than ``min_delta``. Call ``restore(model)`` after training to load the best weights."""

    def __init__(
        self,
        objective: Callable[[torch.nn.Module], float],
        *,
        every: int = 25,
        patience: int = 200,
        min_delta: float = 0.0,
    ) -> None:
        if every < 1 or patience < every:
            raise ValueError(f"need every >= 1 and patience >= every, got every={every}, patience={patience}")
        self.objective, self.every, self.patience, self.min_delta = objective, every, patience, min_delta
        self.best_value = float("inf")
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.curve: list[tuple[int, float]] = []

    @torch.no_grad()
    def __call__(self, step: int, model: torch.nn.Module) -> bool:
        if step % self.every:
            return False
        was_training = model.training
        model.eval()
        value = float(self.objective(model))
        model.train(was_training)
        self.curve.append((step, value))
        if value < self.best_value - self.min_delta:
            self.best_value, self.best_step = value, step
            self.best_state = copy.deepcopy(model.state_dict())
        return step - self.best_step >= self.patience

    def restore(self, model: torch.nn.Module) -> torch.nn.Module:
        """Load the best weights seen (no-op if nothing was evaluated yet)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        return model
