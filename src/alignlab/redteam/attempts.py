"""A red-team run is an eval whose samples are attempts: each base sample through each stack of converters,
run by ``alignlab.evals.eval_task`` (so every attempt is logged, in ``samples.jsonl`` and the Inspect log),
then attack success rates tabulated by converter stack with binomial standard errors."""

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..evals.task import Task
from ..stats import Estimate, proportion_estimate
from .converters import check_converters, convert

STACK_SEPARATOR = "+"


def stack_name(stack: Sequence[str]) -> str:
    return STACK_SEPARATOR.join(stack) or "none"


def attempts_task(task: Task, stacks: Sequence[Sequence[str]], *, seed: int = 0) -> Task:
    """``task`` with each text sample repeated once per converter stack (``()`` is the unconverted prompt),
    ids ``<id>--<stack>``, and the stack and the original prompt in each sample's metadata."""
    for stack in stacks:
        check_converters(stack)
    samples = []
    for sample in task.dataset:
        if not isinstance(sample.input, str):
            raise ValueError(f"sample {sample.id!r}: converters apply to text prompts, not chat messages")
        for stack in stacks:
            samples.append(dataclasses.replace(
                sample, id=f"{sample.id}--{stack_name(stack)}", input=convert(sample.input, stack, seed=seed),
                metadata={**sample.metadata, "converters": list(stack), "original_input": sample.input},
            ))  # fmt: skip
    return dataclasses.replace(
        task, dataset=samples, args={**task.args, "converter_stacks": [list(s) for s in stacks]}
    )


@dataclass(frozen=True)
class StackResult:
    stack: str
    success: Estimate
    """Share of attempts that succeeded, with its binomial standard error."""
    attempts: int


def success_by_stack(
    samples: Sequence[dict[str, Any]], scorer: str, succeeded: Callable[[Any], bool]
) -> list[StackResult]:
    """Attack success rate per converter stack, from an eval's samples; ``succeeded(value)`` reads a score
    (e.g. ``lambda v: v == 0`` for a refusal scorer). Samples whose score failed are left out."""
    by_stack: dict[str, list[bool]] = {}
    for s in samples:
        if scorer in s["scores"]:
            stack = stack_name(s["metadata"].get("converters", []))
            by_stack.setdefault(stack, []).append(succeeded(s["scores"][scorer]["value"]))
    return [
        StackResult(stack, proportion_estimate(sum(hits), len(hits)), len(hits))
        for stack, hits in by_stack.items()
    ]
