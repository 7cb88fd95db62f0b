"""Constitutional AI's supervised stage (Bai et al. 2022): critique a reply against principles, revise it,
repeat; the revisions become SFT data (SL-CAI).

Every role takes any ``Generator`` (the embedded model, a local HF model, an OpenAI-compatible endpoint).
The critic's verdict is read from the first word of its answer ("Yes" = violated); when the answer starts
otherwise (small models often do) and the backend returns log-probabilities, from whether "Yes" or "No" is
the likelier first token. A critique with neither is kept, marked unparsed and counted; it is never read as
"no violation".
"""

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..generation.base import Generator, SamplingParams
from .constitution import Constitution, Principle, default_constitution
from .roles import CritiqueRole, RevisionRole

CRITIQUE_TEMPLATE = """Here is a conversation between a user and an AI assistant.

User: {prompt}
Assistant: {response}

Question: {question}
Start your answer with "Yes" or "No". Then write "Severity:" and a number from 1 (minor) to 5 (severe), and explain in one sentence. If the answer is "Yes", end with "Suggestion:" and one sentence on how to fix the reply."""

REVISION_TEMPLATE = """Here is a conversation between a user and an AI assistant.

User: {prompt}
Assistant: {response}

The assistant's reply breaks these principles:
{problems}

Write a better reply for the assistant that fixes every problem listed while keeping everything in the reply that
helps the user. Write only the new reply, nothing else."""

CRITIC_STOP = ("\nQuestion:", "\nUser:", "\n\n")
"""Where small models go on to echo the template: the critique ends there."""
REVISER_STOP = ("\nThe assistant's reply breaks", "\nUser:", "\nQuestion:")

_ANSWER = re.compile(r"^\W*(?:answer\W*)?(yes|no)\b", re.IGNORECASE)
_SEVERITY = re.compile(r"severity\W{0,3}([1-5])\b", re.IGNORECASE)
_SUGGESTION = re.compile(r"suggestion\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_REPLY_LABEL = re.compile(
    r"^\s*(?:(?:new|better|improved|revised) )?(?:reply|response|assistant)\s*:\s*", re.I
)


@dataclass(frozen=True)
class Critique:
    principle_id: str
    violated: bool | None
    """None when neither the answer's first word nor the first-token probabilities say Yes or No."""
    severity: int | None
    """1-5 when the critic stated one."""
    explanation: str
    raw: str
    p_violation: float | None = None
    """P(Yes) / (P(Yes) + P(No)) at the first answer token, when the backend returns log-probabilities."""
    verdict_from: Literal["text", "logprobs"] | None = None
    suggestion: str | None = None
    """How to fix the reply, when the critic wrote one ("Suggestion: ...")."""

    @property
    def parsed(self) -> bool:
        return self.violated is not None


def parse_critique(principle_id: str, completion) -> Critique:
    """Read a critic's answer: the verdict (first word, else first-token probabilities), "Severity: N", and
    the rest as the explanation."""
    text = completion.text.strip()
    answer = _ANSWER.match(text)
    severity = _SEVERITY.search(text)
    p_yes = _first_token_p_yes(completion)
    if answer:
        violated, source = answer.group(1).lower() == "yes", "text"
    elif p_yes is not None:
        violated, source = p_yes > 0.5, "logprobs"
    else:
        violated, source = None, None
    explanation = text[answer.end() :] if answer else text
    suggestion = _SUGGESTION.search(explanation)
    suggested = suggestion.group(1).strip(" \n\"'") if suggestion else ""
    if suggestion:
        explanation = explanation[: suggestion.start()]
    return Critique(
        principle_id=principle_id,
        violated=violated,
        severity=int(severity.group(1)) if severity else None,
        explanation=_SEVERITY.sub("", explanation).strip(" .,:;-\n\"'"),
        raw=completion.text,
        p_violation=p_yes,
        verdict_from=source,
        suggestion=suggested or None,
    )


def _first_token_p_yes(completion) -> float | None:
    if not completion.top_logprobs:
        return None
    mass = {"yes": 0.0, "no": 0.0}
    for token, logprob in completion.top_logprobs[0].items():
        word = token.strip().lower()
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else None


class Critic:
    """Asks each principle's critique question about a reply, many (prompt, reply, principle) at once."""

    def __init__(
        self,
        generator: Generator,
        constitution: Constitution | None = None,
        params: SamplingParams = SamplingParams(
            max_new_tokens=64, logprobs=True, top_logprobs=10, stop=CRITIC_STOP
        ),
    ) -> None:
        self.generator, self.params = generator, params
        self.constitution = constitution or default_constitution()

    def critique(self, items: Sequence[tuple[str, str, Sequence[Principle]]]) -> list[list[Critique]]:
        """For each (prompt, reply, principles): one critique per principle."""
        jobs = [(prompt, reply, p) for prompt, reply, principles in items for p in principles]
        completions = self.generator.generate(
            [CRITIQUE_TEMPLATE.format(prompt=q, response=r, question=p.critique) for q, r, p in jobs],
            self.params,
        )
        critiques = iter(parse_critique(p.id, c) for (_, _, p), c in zip(jobs, completions, strict=True))
        return [[next(critiques) for _ in principles] for _, _, principles in items]


class Reviser:
    """Rewrites a reply to fix the violations a critic found; returns only the new reply."""

    def __init__(
        self,
        generator: Generator,
        constitution: Constitution | None = None,
        params: SamplingParams = SamplingParams(max_new_tokens=96, stop=REVISER_STOP),
    ) -> None:
        self.generator, self.params = generator, params
        self.constitution = constitution or default_constitution()

    def revise(self, items: Sequence[tuple[str, str, Sequence[Critique]]]) -> list[str]:
        """For each (prompt, reply, critiques): the revised reply, or the reply unchanged when no critique
        found a violation."""
        todo = [i for i, (_, _, critiques) in enumerate(items) if any(c.violated for c in critiques)]
        prompts = [self.prompt(*items[i]) for i in todo]
        new = dict(
            zip(
                todo,
                (clean_reply(c.text) for c in self.generator.generate(prompts, self.params)),
                strict=True,
            )
        )
        return [new.get(i, reply) for i, (_, reply, _) in enumerate(items)]

    def prompt(self, prompt: str, reply: str, critiques: Sequence[Critique]) -> str:
        """Each violated principle by id, with its revision request, the critic's reason and suggestion."""
        problems = "\n".join(
            f"- [{c.principle_id}] {self.constitution.get(c.principle_id).revision}"
            + (f" Why: {c.explanation}." if c.explanation else "")
            + (f" Suggestion: {c.suggestion}" if c.suggestion else "")
            for c in critiques
            if c.violated
        )
        return REVISION_TEMPLATE.format(prompt=prompt, response=reply, problems=problems)


def clean_reply(text: str) -> str:
    """Drop a leading "Reply:"-style label and surrounding quotes that models add to rewrites."""
    text = _REPLY_LABEL.sub("", text.strip())
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text.strip()


@dataclass
class CAIResult:
    prompt: str
    original: str
    final: str
    critiques: list[list[Critique]] = field(default_factory=list)
    """One list per round."""
    revisions: list[str] = field(default_factory=list)
    stopped: Literal["no_violations", "unparsed", "unchanged", "max_revisions"] = "max_revisions"
    """Why the loop ended: no principle violated (every critique parsed), no violation found but some
    critiques unparsed, a revision that changed nothing, or the revision budget."""

    @property
    def n_revisions(self) -> int:
        return len(self.revisions)

    @property
    def violated_principles(self) -> list[str]:
        return sorted({c.principle_id for round_ in self.critiques for c in round_ if c.violated})

    @property
    def n_unparsed(self) -> int:
        return sum(not c.parsed for round_ in self.critiques for c in round_)


class ConstitutionalPipeline:
    """Critique → revise, up to ``max_revisions`` times per reply; a reply leaves the loop when no principle
    is violated or a revision changes nothing. ``principles_per_round`` samples that many principles per round
    (Bai et al. draw one at random); ``None`` asks all of ``principle_ids`` every round."""

    def __init__(
        self,
        critic: CritiqueRole,
        reviser: RevisionRole,
        *,
        max_revisions: int = 3,
        principle_ids: Sequence[str] | None = None,
        principles_per_round: int | None = None,
        seed: int = 0,
    ) -> None:
        self.critic, self.reviser, self.max_revisions = critic, reviser, max_revisions
        self.principles = critic.constitution.select(principle_ids)
        self.principles_per_round = principles_per_round
        self.rng = random.Random(seed)

    def _draw(self) -> list[Principle]:
        k = self.principles_per_round
        return (
            self.principles if k is None or k >= len(self.principles) else self.rng.sample(self.principles, k)
        )

    def run(self, prompts: Sequence[str], responses: Sequence[str]) -> list[CAIResult]:
        """Each prompt's reply through the loop; all replies still in the loop are critiqued (and revised)
        together, one batch per round."""
        results = [CAIResult(p, r, r) for p, r in zip(prompts, responses, strict=True)]
        active = list(range(len(results)))
        for round_ in range(self.max_revisions + 1):
            items = [(results[i].prompt, results[i].final, self._draw()) for i in active]
            violating = []
            for i, critiques in zip(active, self.critic.critique(items), strict=True):
                results[i].critiques.append(critiques)
                if any(c.violated for c in critiques):
                    violating.append(i)
                else:
                    results[i].stopped = "no_violations" if all(c.parsed for c in critiques) else "unparsed"
            if round_ == self.max_revisions or not violating:
                break
            revised = self.reviser.revise(
                [(results[i].prompt, results[i].final, results[i].critiques[-1]) for i in violating]
            )
            active = []
            for i, new in zip(violating, revised, strict=True):
                if new.strip() == results[i].final.strip():
                    results[i].stopped = "unchanged"
                else:
                    results[i].revisions.append(new)
                    results[i].final = new
                    active.append(i)
            if not active:
                break
        return results


def sl_cai_records(results: Sequence[CAIResult], *, revised_only: bool = True) -> list[dict[str, str]]:
    """SFT records ``{"prompt", "completion"}`` (TRL's format) from the final replies."""
    return [{"prompt": r.prompt, "completion": r.final} for r in results if r.n_revisions or not revised_only]
