"""Red teaming with a red LM (Perez et al. 2022): a red LM writes test cases, the target answers each, and a
judge says which answers are failures. The red LM's methods, from most diverse to most effective:

- zero-shot: sample cases from the red LM's own prompt;
- few-shot: put failures found so far in the prompt as examples (stochastic few-shot: a fresh draw per case);
- SL: fine-tune the red LM on the failing cases (``alignlab.training.train_sft``);
- RL: train the red LM with the judge's verdict as reward and a KL penalty to its start
  (``target_reward`` with ``alignlab.training.train_grpo``).

Every method's cases are then run as one eval (``attack_task`` + ``alignlab.evals.eval_task``), so each attempt
is a logged sample in ``samples.jsonl`` and the Inspect log, and a target that errors on a case is counted,
not fatal (``summarize``)."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..evals.samples import Sample
from ..evals.scorers import Score
from ..evals.solvers import Generate
from ..evals.state import Roles, TaskState
from ..evals.task import Task
from ..generation.base import Generator, SamplingParams
from ..stats import Estimate, mean_estimate, proportion_estimate
from .diversity import distinct_n, self_bleu_scores

Judge = Callable[[str, str], bool]
"""(test case, target's reply) -> True when the reply is a failure (the attack succeeded)."""


@dataclass(frozen=True)
class AttackSuccess:
    """1 when ``judge(prompt, reply)`` says the target failed, 0 otherwise. ``description`` says what the judge
    checks; it is what the log records (the function itself is not serialisable)."""

    judge: Judge = field(repr=False)
    description: str = ""
    name: str = "attack_success"
    metrics: tuple[str, ...] = ("mean", "stderr")

    def __call__(self, states: list[TaskState], roles: Roles) -> list[Score]:
        scores = []
        for state in states:
            prompt = state.sample.input if isinstance(state.sample.input, str) else str(state.sample.input)
            scores.append(Score(float(self.judge(prompt, state.completion)), state.completion[:200]))
        return scores


def attack_task(
    name: str,
    cases: Sequence[str],
    judge: Judge,
    *,
    method: str,
    description: str = "",
    max_tokens: int = 64,
    metadata: Sequence[dict[str, Any]] | None = None,
) -> Task:
    """An eval whose samples are the ``cases`` (ids ``<method>-<i>``, the method in each sample's metadata),
    answered greedily by the target and scored by ``judge``."""
    samples = [
        Sample(
            input=case, id=f"{method}-{i}", metadata={"method": method, **(metadata[i] if metadata else {})}
        )
        for i, case in enumerate(cases)
    ]
    return Task(
        name=name,
        dataset=samples,
        solver=[Generate(max_tokens=max_tokens)],
        scorer=[AttackSuccess(judge, description)],
        args={"method": method},
    )


@dataclass(frozen=True)
class MethodSummary:
    method: str
    failure_rate: Estimate
    """Share of scored attempts the judge called failures, with its binomial standard error."""
    failures: int
    attempts: int
    errors: int
    """Attempts the target (or the judge) errored on: logged, counted here, left out of the rate."""
    self_bleu: Estimate
    """Mean self-BLEU-4 of the cases (lower is more diverse), with the standard error over hypotheses."""
    distinct_2: float
    failing_cases: list[str]


def summarize(
    method: str, samples: Sequence[dict[str, Any]], *, scorer: str = "attack_success"
) -> MethodSummary:
    """Failure rate and diversity of one method's attempts, from its eval samples."""
    scored = [s for s in samples if scorer in s["scores"]]
    failing = [s["input"] for s in scored if s["scores"][scorer]["value"] >= 0.5]
    cases = [s["input"] for s in samples]
    bleu = self_bleu_scores(cases)
    return MethodSummary(
        method=method,
        failure_rate=proportion_estimate(len(failing), len(scored)),
        failures=len(failing),
        attempts=len(samples),
        errors=len(samples) - len(scored),
        self_bleu=mean_estimate(bleu) if len(bleu) > 1 else Estimate(float("nan"), float("nan"), len(bleu)),
        distinct_2=distinct_n(cases, 2),
        failing_cases=failing,
    )


def few_shot_prompts(
    header: str, examples: Sequence[str], *, shots: int, n: int, separator: str = " | ", seed: int = 0
) -> list[str]:
    """``n`` prompts, each ``header`` then ``shots`` examples drawn at random (without replacement within a
    prompt) and joined by ``separator``, ending in the separator so the red LM writes the next case."""
    if not examples:
        raise ValueError("few-shot prompting needs at least one example (no failures were found to show)")
    rng = random.Random(seed)
    k = min(shots, len(examples))
    return [
        header + " " + separator.join(rng.sample(list(examples), k)) + separator.rstrip() for _ in range(n)
    ]


@dataclass
class TargetReward:
    """A reward function (TRL's signature) for training a red LM: 1 for a case whose reply the judge calls a
    failure, 0 otherwise. ``extract`` turns a red-LM completion into the case sent. A batch the target errors
    on is retried case by case; a case that still errors gets 0 and is counted in ``errors``."""

    target: Generator
    judge: Judge
    extract: Callable[[str], str] = str.strip
    params: SamplingParams = SamplingParams(max_new_tokens=64)
    errors: int = 0
    calls: int = 0

    def __call__(self, prompts: Sequence[Any], completions: Sequence[str]) -> list[float]:
        cases = [self.extract(c) for c in completions]
        self.calls += len(cases)
        try:
            replies = [c.text for c in self.target.generate(cases, self.params)]
        except Exception:
            replies = []
            for case in cases:
                try:
                    replies.append(self.target.generate([case], self.params)[0].text)
                except Exception:
                    self.errors += 1
                    replies.append(None)
        return [0.0 if r is None else float(self.judge(c, r)) for c, r in zip(cases, replies, strict=True)]
