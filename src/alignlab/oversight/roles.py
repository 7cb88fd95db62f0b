"""The roles of AI oversight as Protocols: anything with the method fills the role (an LLM behind a
``Generator``, a program, a person at a terminal), so protocols and pipelines never depend on one kind."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .cai import Critique
    from .constitution import Constitution, Principle
    from .debate import Argument, DebateQuestion, Judgement
    from .rlaif import PreferenceLabel

Triple = tuple[str, str, str]
"""(prompt, reply A, reply B)."""


@runtime_checkable
class CritiqueRole(Protocol):
    """Says, per principle, whether a reply violates it (``Critic``)."""

    constitution: "Constitution"

    def critique(self, items: Sequence[tuple[str, str, Sequence["Principle"]]]) -> list[list["Critique"]]:
        """For each (prompt, reply, principles): one critique per principle."""
        ...


@runtime_checkable
class RevisionRole(Protocol):
    """Rewrites a reply so that it answers its critiques (``Reviser``)."""

    def revise(self, items: Sequence[tuple[str, str, Sequence["Critique"]]]) -> list[str]:
        """For each (prompt, reply, critiques): the revised reply."""
        ...


@runtime_checkable
class PreferenceLabeler(Protocol):
    """Says which of two replies is better (``PairwiseJudge``, ``ViolationCountLabeler``)."""

    def label(self, triples: Sequence[Triple]) -> list["PreferenceLabel"]:
        """One label per (prompt, reply A, reply B)."""
        ...


@runtime_checkable
class DebateJudge(Protocol):
    """Picks an option from a question and a transcript (``LLMJudge``, ``QuoteJudge``)."""

    def judge(self, cases: Sequence[tuple["DebateQuestion", list["Argument"]]]) -> list["Judgement"]:
        """P(option 0 correct) per case, or a failed judgement with its reason."""
        ...
