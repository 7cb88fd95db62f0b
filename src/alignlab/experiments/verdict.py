"""Deciding a verdict: a pure function of what was measured, and the rule for pooling seeds.

An experiment's ``decide(records) -> Decision`` takes one typed record per seed and returns the verdict,
the reasons (each with its numbers and n), and the pooled headline figures that the report sets beside the
paper's. It must accept a single record (one seed) as well as several, and it may not read anything else:
the same records always give the same decision, which is what makes a verdict testable on hand-made numbers.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from ..reporting import Verdict

RANK: dict[Verdict, int] = {"not_applicable": 0, "not_reproduced": 1, "partial": 2, "reproduced": 3}


class Record(BaseModel):
    """Base of every experiment's measured record (one per seed): typed, frozen, strict about fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[str, ...]
    """Why, in sentences that carry the figures, the test used and n."""
    figures: dict[str, Any] = field(default_factory=dict)
    """Headline figures, under the same keys as the claim's paper figures where they compare."""

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


R = TypeVar("R", bound=Record)
DecideFn = Callable[[Sequence[R]], Decision]


def not_applicable(reason: str, figures: dict[str, Any] | None = None) -> Decision:
    """The claim cannot be tested at this scale (e.g. the judge is at chance on the task itself)."""
    return Decision("not_applicable", (reason,), figures or {})


def graded(strong: bool, weak: bool, reasons: Sequence[str], figures: dict[str, Any]) -> Decision:
    """The common two-tier rule: reproduced if the strong condition holds, partial if only the weak one."""
    verdict: Verdict = "reproduced" if strong else "partial" if weak else "not_reproduced"
    return Decision(verdict, tuple(reasons), figures)


def decide_over_seeds(decide: DecideFn, records: Sequence[R]) -> tuple[Decision, list[Decision]]:
    """The pooled decision over all seeds, and each seed's own. A verdict that flips between seeds is
    ``partial`` at best: a pooled ``reproduced`` is capped when the seeds disagree."""
    if not records:
        raise ValueError("a verdict needs at least one seed's record")
    per_seed = [decide([record]) for record in records]
    pooled = decide(records)
    verdicts = [d.verdict for d in per_seed]
    if len(set(verdicts)) > 1 and RANK[pooled.verdict] > RANK["partial"]:
        note = f"capped at partial: the seeds disagree ({', '.join(verdicts)})"
        pooled = replace(pooled, verdict="partial", reasons=(*pooled.reasons, note))
    return pooled, per_seed
