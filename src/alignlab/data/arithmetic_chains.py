"""Multi-step arithmetic whose every step can be checked by a program: the synthetic stand-in for MATH in
process-supervision experiments (Lightman et al. 2023) and for verifiable solutions in prover-verifier games.

A problem is a start value and a chain of operations applied left to right, e.g. ``7 4 + 1 8 - 2 5 * 3 =``;
its solution writes one step per operation, each ending in ``;``:

    7 4 + 1 8 = 9 2 ; 9 2 - 2 5 = 6 7 ; 6 7 * 3 = 2 0 1 ;

Digits are separate words, so a word-level toy model reads and writes numbers digit by digit. Every step
is determined by the problem, so grading is exact: a step is correct when it equals the gold step and all
steps before it are correct ("correct up to the first error", the label PRM800K's annotators gave), and a
solution is correct when its last step's result is the answer — which a flawed process can still reach.
"""

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
STEP_END = ";"
_STEP = re.compile(r"^(\d+) ([+*-]) (\d+) = (\d+)$")


def spell(n: int) -> str:
    """``92`` → ``"9 2"``."""
    return " ".join(str(n))


@dataclass(frozen=True)
class ChainProblem:
    start: int
    operations: tuple[tuple[str, int], ...]

    @property
    def prompt(self) -> str:
        return " ".join([spell(self.start), *(f"{op} {spell(b)}" for op, b in self.operations), "="])

    @property
    def values(self) -> list[int]:
        """The running value after each step."""
        values, value = [], self.start
        for op, operand in self.operations:
            value = OPERATIONS[op](value, operand)
            values.append(value)
        return values

    @property
    def answer(self) -> int:
        return self.values[-1]

    @property
    def gold_steps(self) -> list[str]:
        befores = [self.start, *self.values[:-1]]
        return [
            f"{spell(a)} {op} {spell(b)} = {spell(c)}"
            for a, (op, b), c in zip(befores, self.operations, self.values, strict=True)
        ]

    @property
    def gold_solution(self) -> str:
        return join_steps(self.gold_steps)


def join_steps(steps: Sequence[str]) -> str:
    return " ".join(f"{step} {STEP_END}" for step in steps)


def split_steps(solution: str) -> list[str]:
    """The steps of a written solution; text after the last ``;`` counts as a final, unfinished step."""
    return [step.strip() for step in solution.split(STEP_END) if step.strip()]


def step_result(step: str) -> int | None:
    """The number after ``=`` in a well-formed step, else None."""
    match = _STEP.match(_normalise(step))
    return int(match.group(4)) if match else None


def _normalise(step: str) -> str:
    """``"9 2 - 2 5 = 6 7"`` → ``"92 - 25 = 67"``: digits joined, symbols spaced."""
    compact = step.replace(" ", "")
    return re.sub(r"([+*=-])", r" \1 ", compact).strip()


@dataclass(frozen=True)
class Grade:
    step_correct: list[bool]
    """Per written step: correct up to the first error (every step after the first wrong one is False). A
    solution that stops early has its last step marked wrong (it gives that step's result as the answer),
    unless graded with ``mark_unfinished=False``."""
    final_correct: bool
    """The last step's result is the answer (and there are as many steps as operations)."""

    @property
    def first_error(self) -> int | None:
        return next((i for i, ok in enumerate(self.step_correct) if not ok), None)

    @property
    def process_correct(self) -> bool:
        return self.final_correct and self.first_error is None

    @property
    def prm_labels(self) -> list[bool]:
        """Labels up to and including the first wrong step; later steps are left unlabelled."""
        first = self.first_error
        return self.step_correct if first is None else self.step_correct[: first + 1]


def grade(problem: ChainProblem, steps: Sequence[str], *, mark_unfinished: bool = True) -> Grade:
    """Grade written steps against the gold chain. With ``mark_unfinished`` a solution whose every step is
    right but that stops early has its last step marked wrong (the step that gives a wrong final answer);
    without, its steps stay right, for verifiers that label the end of the solution separately."""
    gold = problem.gold_steps
    correct, ok = [], True
    for i, step in enumerate(steps):
        ok = ok and i < len(gold) and _normalise(step) == _normalise(gold[i])
        correct.append(ok)
    if mark_unfinished and ok and 0 < len(steps) < len(gold):  # every step right, but it stops early
        correct[-1] = False
    final = len(steps) == len(gold) and step_result(steps[-1]) == problem.answer  # no steps: not correct
    return Grade(correct, final)


@dataclass(frozen=True)
class ArithmeticChainTask:
    """Random chains of ``min_steps``..``max_steps`` operations on a two-digit start value, each adding,
    subtracting or multiplying by a number from 1 (2 for ``*``) to ``max_operand``, with every running value
    kept in 0..``max_value``."""

    min_steps: int = 3
    max_steps: int = 4
    operations: tuple[str, ...] = ("+", "-")
    max_operand: int = 9
    max_value: int = 99

    def __post_init__(self) -> None:
        if not 1 <= self.min_steps <= self.max_steps:
            raise ValueError(f"need 1 <= min_steps <= max_steps, got {self.min_steps} and {self.max_steps}")
        if not {"+", "-"} <= set(self.operations) <= set(OPERATIONS):
            raise ValueError(f"operations must be + and - and optionally *, got {list(self.operations)}")
        if not 2 <= self.max_operand < self.max_value or self.max_value < 10:
            raise ValueError("need 2 <= max_operand < max_value and max_value >= 10")

    @property
    def words(self) -> list[str]:
        return [str(d) for d in range(10)] + [*OPERATIONS, "=", STEP_END]

    def problem(self, rng: random.Random) -> ChainProblem:
        start = value = rng.randint(10, min(99, self.max_value))
        operations = []
        for _ in range(rng.randint(self.min_steps, self.max_steps)):
            choices = [
                (op, b)
                for op in self.operations
                for b in range(2 if op == "*" else 1, self.max_operand + 1)
                if 0 <= OPERATIONS[op](value, b) <= self.max_value
            ]
            op, operand = rng.choice(choices)  # never empty: value + 1 or value - 1 is in range
            value = OPERATIONS[op](value, operand)
            operations.append((op, operand))
        return ChainProblem(start, tuple(operations))

    def problems(self, n: int, *, seed: int, exclude: Sequence[ChainProblem] = ()) -> list[ChainProblem]:
        """``n`` distinct problems, none of them in ``exclude`` (to keep test problems out of training)."""
        rng, seen, out = random.Random(seed), set(exclude), []
        while len(out) < n:
            problem = self.problem(rng)
            if problem not in seen:
                seen.add(problem)
                out.append(problem)
        return out
