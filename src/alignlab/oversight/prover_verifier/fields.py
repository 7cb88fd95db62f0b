"""Numbers, steps and a prover's context as fixed-width fields: what the step verifier and the provers read."""

from collections.abc import Sequence

import torch

from ...data.arithmetic_chains import ChainProblem
from .solutions import _OPS, GAME_OPERATIONS, Solution, WrittenStep

NUMBER_WIDTH = 32
"""A number as its value / 100, a sign flag and one-hot hundreds, tens and ones digits."""
SLOT_WIDTH = 2 * (len(_OPS) + 1) + 2 * 12
"""One operation slot of a step: the problem's and the written operator (or none) and operand (or none)."""
STEP_FEATURES = 2 * NUMBER_WIDTH + 2 * SLOT_WIDTH
CONTEXT_FEATURES = NUMBER_WIDTH + len(_OPS) + 12 + 8 + 2


def _number(n: int) -> list[float]:
    out = [n / 100, float(n < 0)] + [0.0] * 30
    m = min(abs(n), 999)
    for k, digit in enumerate((m // 100, m // 10 % 10, m % 10)):
        out[2 + 10 * k + digit] = 1.0
    return out


def _one_hot(index: int | None, size: int) -> list[float]:
    """``index`` of ``size - 1`` classes; None is the last class ("absent")."""
    out = [0.0] * size
    out[size - 1 if index is None else index] = 1.0
    return out


def _operand(b: int | None) -> list[float]:
    """An operand 0..9 as its value / 10 and one-hot, or absent."""
    return [0.0 if b is None else b / 10] + _one_hot(None if b is None or not 0 <= b <= 9 else b, 11)


def step_features(problem: ChainProblem, step: WrittenStep) -> list[float]:
    """What the verifier reads of one step: its start and result, and for up to two operations the problem's
    operator and operand beside the written ones."""
    slots = []
    for k in range(2):
        if k < len(step.covers):
            (p_op, p_b), (w_op, w_b) = problem.operations[step.covers[k]], step.operations[k]
            slots += _one_hot(_OPS[p_op], 3) + _operand(p_b) + _one_hot(_OPS[w_op], 3) + _operand(w_b)
        else:
            slots += _one_hot(None, 3) + _operand(None) + _one_hot(None, 3) + _operand(None)
    return _number(step.start) + slots + _number(step.result)


def encode_solutions(solutions: Sequence[Solution]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, STEP_FEATURES) step fields and an (N, S) mask of real steps, S the most steps of any solution."""
    width = max(len(s.steps) for s in solutions)
    features = torch.zeros(len(solutions), width, STEP_FEATURES)
    mask = torch.zeros(len(solutions), width, dtype=torch.bool)
    for i, solution in enumerate(solutions):
        for j, step in enumerate(solution.steps):
            features[i, j] = torch.tensor(step_features(solution.problem, step))
            mask[i, j] = True
    return features, mask


def context_features(
    value: int, op: str, operand: int, position: int, merged_before: bool, last: bool
) -> list[float]:
    """What a prover reads before writing one operation: the running value, the operator and operand, the
    position, and whether it merged the previous operation or this is the last."""
    return (
        _number(value)
        + [float(op == o) for o in GAME_OPERATIONS]
        + _operand(operand)
        + _one_hot(min(position, 7), 8)
        + [float(merged_before), float(last)]
    )
