"""The frozen reference policy that KL-regularised methods compare against.

With a PEFT (LoRA) policy the reference is the same network with its adapter disabled, so no second copy
of the weights is kept; otherwise it is a frozen copy taken before training starts.
"""

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


def is_peft_model(model: torch.nn.Module) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


class Reference:
    def __init__(self, policy: torch.nn.Module, reference: torch.nn.Module | None = None) -> None:
        self.policy = policy
        if reference is not None:
            self.model = reference
        elif is_peft_model(policy):
            self.model = None
        else:
            self.model = copy.deepcopy(policy)
        if self.model is not None:
            self.model.eval().requires_grad_(False)

    @contextmanager
    def _as_reference(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        if self.model is not None:
            yield self.model.to(next(model.parameters()).device)
        else:
            with model.disable_adapter():
                yield model

    @torch.no_grad()
    def __call__(
        self, fn: Callable[[torch.nn.Module], torch.Tensor], model: torch.nn.Module | None = None
    ) -> torch.Tensor:
        """``fn`` evaluated on the reference. ``model`` is the policy as the loop prepared it (for LoRA)."""
        with self._as_reference(model or self.policy) as reference:
            was_training = reference.training
            reference.eval()
            try:
                return fn(reference)
            finally:
                reference.train(was_training)
