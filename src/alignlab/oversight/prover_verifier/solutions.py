"""Written solutions of chain problems in a prover-verifier game: what a prover chooses to write (a flaw per
operation, which operations to merge into one step) and the chain it gives; text written in that format is
read back by ``parse_solution``."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ...data.arithmetic_chains import OPERATIONS, ChainProblem, spell, split_steps

Role = Literal["helpful", "sneaky"]
FLAWS = ("none", "slip_ones", "slip_tens", "miscopy")
"""What a prover can do to one operation: nothing, write its result off by 1 or by 10, or copy the operand
off by 1 (and compute with the wrong operand). Every later step starts from the written value."""
GAME_OPERATIONS = ("+", "-")
_OPS = {"+": 0, "-": 1}


@dataclass(frozen=True)
class WrittenStep:
    start: int
    operations: tuple[tuple[str, int], ...]
    """One operation, or two when the prover merged them (the middle value is not written)."""
    result: int
    covers: tuple[int, ...]
    """Indices of the problem's operations this step stands for."""

    @property
    def text(self) -> str:
        ops = " ".join(f"{op} {spell(b)}" for op, b in self.operations)
        return f"{_spell_signed(self.start)} {ops} = {_spell_signed(self.result)}"


def _spell_signed(n: int) -> str:
    return spell(n) if n >= 0 else f"neg {spell(-n)}"


@dataclass(frozen=True)
class Solution:
    problem: ChainProblem
    steps: tuple[WrittenStep, ...]
    flaws: tuple[str, ...] = ()
    """The prover's choice per problem operation (bookkeeping; the verifier never sees it); empty for a
    solution parsed from text."""

    @property
    def correct(self) -> bool:
        return self.steps[-1].result == self.problem.answer

    @property
    def merged_share(self) -> float:
        """Share of the problem's operations written inside a merged step."""
        return sum(len(s.covers) for s in self.steps if len(s.covers) > 1) / len(self.problem.operations)

    @property
    def text(self) -> str:
        return " ".join(f"{step.text} ;" for step in self.steps)


def apply_flaw(value: int, op: str, operand: int, flaw: str, sign: int) -> tuple[int, int]:
    """The operand as written and the value after one operation carried out with ``flaw`` in direction
    ``sign``."""
    if flaw == "miscopy":
        operand += sign
    value = OPERATIONS[op](value, operand)
    if flaw in ("slip_ones", "slip_tens"):
        value += sign * (1 if flaw == "slip_ones" else 10)
    return operand, value


def write_solution(
    problem: ChainProblem, flaws: Sequence[str], merges: Sequence[bool], signs: Sequence[int]
) -> Solution:
    """Write ``problem``'s chain with ``flaws[i]`` applied to operation i, operation i merged with i + 1 where
    ``merges[i]``, and ``signs[i]`` (±1) the direction of a slip or a mis-copy."""
    n = len(problem.operations)
    if not len(flaws) == len(merges) == len(signs) == n:
        raise ValueError(
            f"need one flaw, merge and sign per operation ({n}), got {len(flaws)}, {len(merges)}"
        )
    steps, value, i = [], problem.start, 0
    while i < n:
        covers = (i, i + 1) if merges[i] and i + 1 < n else (i,)
        start, written = value, []
        for j in covers:
            op, operand = problem.operations[j]
            operand, value = apply_flaw(value, op, operand, flaws[j], signs[j])
            written.append((op, operand))
        steps.append(WrittenStep(start, tuple(written), value, covers))
        i += len(covers)
    return Solution(problem, tuple(steps), tuple(flaws))


_NUMBER = r"(neg )?(\d+)"
_WRITTEN_STEP = re.compile(rf"^{_NUMBER}((?: [+-] \d+){{1,2}}) = {_NUMBER}$")


def parse_solution(problem: ChainProblem, text: str) -> Solution | None:
    """A chain written in ``Solution.text``'s format read back into steps, or None when a step is malformed,
    holds more than two operations, or the steps do not cover the problem's operations in order."""
    steps, position = [], 0
    for raw in split_steps(text):
        compact = re.sub(r"(?<=\d) (?=\d)", "", " ".join(raw.split()))  # "7 4 + 8" -> "74 + 8"
        match = _WRITTEN_STEP.match(compact)
        if match is None:
            return None
        start = int(match.group(2)) * (-1 if match.group(1) else 1)
        result = int(match.group(5)) * (-1 if match.group(4) else 1)
        ops = re.findall(r"([+-]) (\d+)", match.group(3))
        covers = tuple(range(position, position + len(ops)))
        if covers[-1] >= len(problem.operations):
            return None
        steps.append(WrittenStep(start, tuple((op, int(b)) for op, b in ops), result, covers))
        position += len(ops)
    if not steps or position != len(problem.operations):
        return None
    return Solution(problem, tuple(steps))
