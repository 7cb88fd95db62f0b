"""A programmatic critic that follows a constitution: each principle it knows is a list of patterns whose
presence in a reply is a violation; and the reviser that goes with it, which deletes what the critic flagged.
They stand in for LLM roles where no model here is good enough to be evidence (the embedded 135M model's
critiques are at chance, see the `cai` experiment), so that a constitutional chain (critique → revision →
preference labels → reward model → policy) can be run and tested end to end.

``noise`` flips each verdict with that probability (seeded), to model a fallible critic; a principle with no
rule is answered as unparsed (``violated = None``), never as "no violation".
"""

import random
import re
from collections.abc import Mapping, Sequence

from ..errors import AlignlabError
from .cai import Critique
from .constitution import Constitution, Principle, default_constitution

DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    "harm-dangerous-help": (r"\bexplosive", r"\bdetonat", r"\bpoison\w* (?:someone|him|her|them)",
                            r"\bstop eating\b", r"\bstarv(?:e|ing) yourself", r"\blaxatives?\b",
                            r"\b[1-5]00 calories a day"),
    "harm-illegal-acts": (r"\btension wrench", r"\binsert (?:a|the) pick\b", r"\brake the pins",
                          r"\bhot-?wir", r"\bshoplift", r"\bskim(?:mer|ming) (?:a )?card", r"\bfake id"),
    "harm-self-harm": (r"\bhow to (?:cut|hurt) yourself", r"\bmost painless way\b"),
    "help-no-needless-refusal": (r"^\s*(?:i'?m sorry|sorry|i can(?:no|')t|i won'?t|i am unable)\b",),
}  # fmt: skip
"""Patterns (case-insensitive) for the default constitution's principles that a program can check."""


class RuleCritic:
    """Fills the ``CritiqueRole``: one critique per (reply, principle), from the principle's patterns."""

    def __init__(
        self,
        constitution: Constitution | None = None,
        rules: Mapping[str, Sequence[str]] = DEFAULT_RULES,
        *,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not 0 <= noise < 0.5:
            raise AlignlabError(
                f"noise must be in [0, 0.5): a critic wrong half the time says nothing; got {noise}"
            )
        self.constitution = constitution or default_constitution()
        for principle_id in rules:
            self.constitution.get(principle_id)  # a rule for a principle the constitution lacks is an error
        self.rules = {k: [re.compile(p, re.IGNORECASE) for p in v] for k, v in rules.items()}
        self.noise, self.rng = noise, random.Random(seed)

    def critique(self, items: Sequence[tuple[str, str, Sequence[Principle]]]) -> list[list[Critique]]:
        return [[self._one(reply, p) for p in principles] for _, reply, principles in items]

    def _one(self, reply: str, principle: Principle) -> Critique:
        if principle.id not in self.rules:
            return Critique(principle.id, None, None, f"no rule checks {principle.id}", raw="")
        hits = [m.group(0) for pattern in self.rules[principle.id] if (m := pattern.search(reply))]
        violated = bool(hits)
        flipped = self.noise > 0 and self.rng.random() < self.noise
        violated ^= flipped
        explanation = (f"the reply contains {', '.join(repr(h) for h in hits)}" if hits
                       else "no pattern of this principle matches")  # fmt: skip
        suggestion = f"Remove {hits[0]!r} and what goes with it." if violated and hits else None
        return Critique(
            principle.id, violated, 3 if violated else None,
            explanation + (" (verdict flipped by the critic's noise)" if flipped else ""), raw="",
            verdict_from="text", suggestion=suggestion,
        )  # fmt: skip


DECLINE = "I'm sorry, but I can't help with that: it could cause real harm."
"""What ``RuleReviser`` writes when too little of a reply survives its critiques (worded to match no rule)."""


class RuleReviser:
    """Fills the ``RevisionRole`` for a ``RuleCritic``: drops every sentence in which a pattern of a violated
    principle matches; when fewer than ``min_words`` words are left, the reply opens with a short refusal
    (``DECLINE``), followed by whatever survived. A critique flipped by the critic's noise (violated, but no
    pattern matches) removes nothing, so the reply comes back unchanged and the pipeline stops there, as it
    does for an LLM reviser that changes nothing."""

    def __init__(self, critic: RuleCritic, *, min_words: int = 8) -> None:
        self.critic, self.min_words = critic, min_words

    def revise(self, items: Sequence[tuple[str, str, Sequence[Critique]]]) -> list[str]:
        return [self._one(reply, critiques) for _, reply, critiques in items]

    def _one(self, reply: str, critiques: Sequence[Critique]) -> str:
        violated = [c.principle_id for c in critiques if c.violated and c.principle_id in self.critic.rules]
        patterns = [p for principle_id in violated for p in self.critic.rules[principle_id]]
        sentences = _SENTENCE_END.split(reply.strip())
        kept = [s for s in sentences if not any(p.search(s) for p in patterns)]
        if len(kept) == len(sentences):
            return reply
        rest = " ".join(kept)
        return rest if len(rest.split()) >= self.min_words else f"{DECLINE} {rest}".strip()


_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")
