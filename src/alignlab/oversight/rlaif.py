"""AI preference labels (RLAIF; Bai et al. 2022, Lee et al. 2023) for the reward-model and DPO trainers.

Two labelers, each over (prompt, reply A, reply B) triples:

- ``ViolationCountLabeler``: critique both replies against the constitution; the one with fewer violations
  is preferred, equal counts are a tie; confidence = |v_A - v_B| / number of principles asked.
- ``PairwiseJudge``: ask which reply is better and read the answer from the log-probabilities of the choice
  tokens "1" and "2", in both orders to cancel position bias (Lee et al. 2023, Zheng et al. 2023):

      p(A) = ( P(1 | A first) + P(2 | B first) ) / 2,   P(k) = p(k) / (p(1) + p(2)) at the first token.

  Given a constitution, the question for each pair is one principle's comparative form, drawn at random
  ("Choose the response that ..."), as Bai et al. (2022) label RL-CAI preferences.

A judgement with neither choice token among the returned alternatives is a recorded failure, not a tie.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..errors import AlignlabError
from ..generation.base import Completion, Generator, SamplingParams
from .constitution import Constitution

if TYPE_CHECKING:
    from .cai import Critique
    from .roles import CritiqueRole

Triple = tuple[str, str, str]  # (prompt, reply A, reply B)

PAIRWISE_TEMPLATE = """Which reply to the user is {criterion}?

User: {prompt}

Reply 1: {first}

Reply 2: {second}

Answer with the number of the better reply, 1 or 2."""

PRINCIPLE_TEMPLATE = """Consider this conversation between a user and an AI assistant, and two possible replies.

User: {prompt}

Reply 1: {first}

Reply 2: {second}

{comparison} Answer with the number of the reply, 1 or 2."""


@dataclass(frozen=True)
class PreferenceLabel:
    preferred: Literal["a", "b"] | None
    """None: a tie, or a failed judgement (see ``failed``)."""
    confidence: float
    """0 (a coin flip) to 1 (certain)."""
    rationale: str
    failed: bool = False
    p_a: float | None = None
    """The judge's probability that A is better, both orders averaged."""
    p_first: tuple[float, float] | None = None
    """P(the reply shown first is better) with A first and with B first; equal at 0.5 without position bias."""
    principle_id: str | None = None
    """The principle whose comparison was asked, when one was sampled for this pair."""


def violation_label(critiques_a: Sequence["Critique"], critiques_b: Sequence["Critique"]) -> PreferenceLabel:
    """The reply with fewer violations of the same principles is preferred; equal counts are a tie;
    confidence = |v_A − v_B| / principles asked. Failed when no critique of one reply could be parsed."""
    pair = critiques_a, critiques_b
    if any(all(not c.parsed for c in cs) for cs in pair):
        return PreferenceLabel(None, 0.0, "no critique of one reply could be parsed", failed=True)
    v_a, v_b = (sum(bool(c.violated) for c in cs) for cs in pair)
    unparsed = sum(not c.parsed for cs in pair for c in cs)
    named = [", ".join(c.principle_id for c in cs if c.violated) or "none" for cs in pair]
    rationale = f"A violates {v_a} ({named[0]}), B violates {v_b} ({named[1]})" + (
        f"; {unparsed} critiques unparsed" if unparsed else ""
    )
    preferred = None if v_a == v_b else "a" if v_a < v_b else "b"
    return PreferenceLabel(preferred, abs(v_a - v_b) / len(critiques_a), rationale)


class ViolationCountLabeler:
    """Both replies critiqued under the same principles: all of ``principle_ids``, or, with
    ``principles_per_pair``, that many drawn at random for each pair (Bai et al. 2022 draw one), recorded on
    the label when it is one."""

    def __init__(
        self,
        critic: "CritiqueRole",
        principle_ids: Sequence[str] | None = None,
        *,
        principles_per_pair: int | None = None,
        seed: int = 0,
    ) -> None:
        self.critic = critic
        self.principles = critic.constitution.select(principle_ids)
        if principles_per_pair is not None and not 1 <= principles_per_pair <= len(self.principles):
            raise AlignlabError(
                f"principles_per_pair must be between 1 and the {len(self.principles)} principles asked; "
                f"got {principles_per_pair}"
            )
        self.per_pair, self.rng = principles_per_pair, random.Random(seed)

    def label(self, triples: Sequence[Triple]) -> list[PreferenceLabel]:
        drawn = [
            self.principles if self.per_pair is None else self.rng.sample(self.principles, self.per_pair)
            for _ in triples
        ]
        items = [(t[0], reply, ps) for t, ps in zip(triples, drawn, strict=True) for reply in t[1:]]
        critiques = self.critic.critique(items)
        labels = [violation_label(critiques[2 * i], critiques[2 * i + 1]) for i in range(len(triples))]
        if self.per_pair == 1:
            labels = [replace(label, principle_id=ps[0].id) for label, ps in zip(labels, drawn, strict=True)]
        return labels


def choice_probability(completion: Completion, choices: tuple[str, str] = ("1", "2")) -> float | None:
    """P(first choice) / (P(first) + P(second)) at the first generated token; None when neither is among the
    returned alternatives."""
    if not completion.top_logprobs:
        return None
    mass = dict.fromkeys(choices, 0.0)
    for token, logprob in completion.top_logprobs[0].items():
        if token.strip() in mass:
            mass[token.strip()] += math.exp(logprob)
    total = sum(mass.values())
    return mass[choices[0]] / total if total > 0 else None


def order_averaged(straight: Completion, swapped: Completion) -> tuple[float, float, float] | None:
    """A two-way choice asked in both orders: P(the option shown first in ``straight`` is chosen), averaged
    with the swapped order to cancel a preference for a position, (p + (1 − q)) / 2, followed by p and q
    themselves. None when either answer holds no choice token."""
    p, q = choice_probability(straight), choice_probability(swapped)
    return None if p is None or q is None else ((p + (1 - q)) / 2, p, q)


class PairwiseJudge:
    """Asks which reply is better under one ``criterion``, or, given a ``constitution``, under a principle drawn
    at random for each pair from those with a comparative form (Bai et al. 2022's RL-CAI labels); the drawn
    principle is recorded on the label."""

    def __init__(
        self,
        generator: Generator,
        criterion: str = "more helpful, honest and harmless",
        params: SamplingParams = SamplingParams(max_new_tokens=1, logprobs=True, top_logprobs=20),
        *,
        constitution: Constitution | None = None,
        principle_ids: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        if not (params.logprobs and params.top_logprobs):
            raise ValueError(
                "the pairwise judge reads choice-token probabilities: set logprobs and top_logprobs"
            )
        self.generator, self.criterion, self.params = generator, criterion, params
        self.principles = (
            [p for p in constitution.select(principle_ids) if p.comparison]
            if constitution is not None
            else []
        )
        if constitution is not None and not self.principles:
            raise AlignlabError(
                f"constitution {constitution.name!r}: none of the principles asked has a comparison"
            )
        self.rng = random.Random(seed)

    def prompt(self, prompt: str, first: str, second: str, comparison: str | None = None) -> str:
        if comparison is not None:
            return PRINCIPLE_TEMPLATE.format(comparison=comparison, prompt=prompt, first=first, second=second)
        return PAIRWISE_TEMPLATE.format(criterion=self.criterion, prompt=prompt, first=first, second=second)

    def label(self, triples: Sequence[Triple]) -> list[PreferenceLabel]:
        drawn = [self.rng.choice(self.principles) if self.principles else None for _ in triples]
        comparisons = [p.comparison if p else None for p in drawn]
        prompts = [self.prompt(q, a, b, c) for (q, a, b), c in zip(triples, comparisons, strict=True)] + [
            self.prompt(q, b, a, c) for (q, a, b), c in zip(triples, comparisons, strict=True)
        ]
        completions = self.generator.generate(prompts, self.params)
        n = len(triples)
        labels = []
        for ab, ba, principle in zip(completions[:n], completions[n:], drawn, strict=True):
            principle_id = principle.id if principle else None
            averaged = order_averaged(ab, ba)
            if averaged is None:
                answers = f"{ab.text!r} / {ba.text!r}"
                labels.append(PreferenceLabel(None, 0.0, f"no choice token in the answers {answers}", failed=True,
                                              principle_id=principle_id))  # fmt: skip
                continue
            p_a, p_ab, p_ba = averaged
            preferred = None if p_a == 0.5 else "a" if p_a > 0.5 else "b"
            rationale = (f"P(A better) = {p_a:.3f} (A shown first: {p_ab:.3f}; B shown first: {1 - p_ba:.3f})"
                         + (f" under {principle_id}" if principle_id else ""))  # fmt: skip
            labels.append(PreferenceLabel(preferred, abs(2 * p_a - 1), rationale, p_a=p_a, p_first=(p_ab, p_ba),
                                          principle_id=principle_id))  # fmt: skip
        return labels


def labeler_report(labels: Sequence[PreferenceLabel], gold: Sequence[Literal["a", "b"]]) -> dict[str, float]:
    """Agreement with gold over decided labels, and the counts of ties and failures; for the pairwise judge
    also its position bias: the mean P(the first-shown reply is better), 0.5 for an unbiased judge, and how
    often one slot wins in both orders (the verdict follows the position, not the reply)."""
    decided = [(label, g) for label, g in zip(labels, gold, strict=True) if label.preferred is not None]
    report = {
        "n": len(labels),
        "decided": len(decided),
        "ties": sum(label.preferred is None and not label.failed for label in labels),
        "failed": sum(label.failed for label in labels),
        "agreement": sum(label.preferred == g for label, g in decided) / len(decided)
        if decided
        else float("nan"),
    }
    ordered = [label.p_first for label in labels if label.p_first is not None]
    if ordered:
        report["p_first_shown"] = sum(p_ab + p_ba for p_ab, p_ba in ordered) / (2 * len(ordered))
        report["order_inconsistent"] = sum(
            (p_ab - 0.5) * (p_ba - 0.5) > 0
            for p_ab, p_ba in ordered  # one slot wins in both orders
        ) / len(ordered)
    return report


def preference_records(triples: Sequence[Triple], labels: Sequence) -> list[dict[str, str]]:
    """``{"prompt", "chosen", "rejected"}`` records (TRL's format) for the labels (anything with ``preferred``)
    that chose "a" or "b"; ties and failures are left out."""
    return [
        {
            "prompt": q,
            "chosen": a if label.preferred == "a" else b,
            "rejected": b if label.preferred == "a" else a,
        }
        for (q, a, b), label in zip(triples, labels, strict=True)
        if label.preferred in ("a", "b")
    ]
