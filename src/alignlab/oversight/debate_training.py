"""Self-play training of an LLM debater against a fixed judge (Khan et al. 2024; Irving et al. 2018).

Each question is argued from both sides by the same policy in the same training step. The i-th argument
sampled for option 0 meets the i-th argument sampled for option 1 before the judge, and the judge's
probability of a side's option is that side's reward:

    r(argument for option 0) = P_judge(0 | question, both arguments),   r(argument for option 1) = 1 − that.

The game is zero-sum, so the mean reward stays at 1/2; what training changes is how persuasive the arguments
are to this judge, which GRPO rewards within each group of arguments for the same question and side. Every
judged pair is kept as a ``DebateEpisode`` (the trainer's history).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import AlignlabError
from .debate import Argument, DebateQuestion
from .roles import DebateJudge

if TYPE_CHECKING:
    import torch

    from ..training import RunOptions, TrainConfig
    from ..training.grpo import GRPOConfig
    from ..training.loop import LoopHooks

ARGUE_TEMPLATE = """Question: {question}
1. {first}
2. {second}

Argue that the answer is "{answer}" and not "{other}". Write one or two sentences."""


@dataclass(frozen=True)
class DebateEpisode:
    step: int
    question: DebateQuestion
    arguments: tuple[str, str]
    """The argument for option 0 and the one for option 1."""
    p_option0: float | None
    """The judge's P(option 0); None when it gave no usable answer (both sides then get 1/2)."""


def argue_prompt(question: DebateQuestion, side: int) -> str:
    first, second = question.options
    answer, other = question.options[side], question.options[1 - side]
    passage = f"Story: {question.passage}\n\n" if question.passage else ""
    return passage + ARGUE_TEMPLATE.format(
        question=question.question, first=first, second=second, answer=answer, other=other
    )


class SelfPlayDebateReward:
    """A GRPO reward function: pairs each argument with one for the other option of the same question from the
    same rollout, and asks the judge."""

    def __init__(self, judge: DebateJudge, questions: Sequence[DebateQuestion]) -> None:
        self.judge = judge
        self.sides = {argue_prompt(q, s): (i, s) for i, q in enumerate(questions) for s in (0, 1)}
        self.questions = list(questions)
        self.history: list[DebateEpisode] = []
        self.step = 0

    def __call__(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        slots: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, prompt in enumerate(prompts):
            if prompt not in self.sides:
                raise AlignlabError(
                    f"self-play debate: prompt {i} was not made by argue_prompt: {prompt[:80]!r}"
                )
            slots[self.sides[prompt]].append(i)
        pairs = []
        for question in sorted({q for q, _ in slots}):
            for_0, for_1 = slots.get((question, 0), []), slots.get((question, 1), [])
            if len(for_0) != len(for_1):
                raise AlignlabError(
                    f"self-play debate: question {question} has {len(for_0)} arguments for option 0 and "
                    f"{len(for_1)} for option 1 in this step; put both sides of a question in the same step"
                )
            pairs += [(question, i, j) for i, j in zip(for_0, for_1, strict=True)]
        cases = [
            (self.questions[q], [Argument("proposer", 0, completions[i], 0), Argument("opponent", 1, completions[j], 0)])
            for q, i, j in pairs
        ]  # fmt: skip
        rewards = [0.5] * len(completions)
        for (q, i, j), judgement in zip(pairs, self.judge.judge(cases), strict=True):
            p = judgement.p
            rewards[i], rewards[j] = (0.5, 0.5) if p is None else (p, 1 - p)
            self.history.append(
                DebateEpisode(self.step, self.questions[q], (completions[i], completions[j]), p)
            )
        self.step += 1
        return rewards


@dataclass(frozen=True)
class ProtocolOutcomes:
    """Per question, 1 where the judge ends preferring the correct option (a judge that gives no usable answer
    counts 0)."""

    debate_honest_first: list[int]
    debate_honest_second: list[int]
    consultancy: list[int]


def judge_outcomes(
    policy: "torch.nn.Module",
    tokenizer,
    judge: DebateJudge,
    questions: Sequence[DebateQuestion],
    argues_truth: Sequence[bool],
    *,
    max_new_tokens: int = 32,
) -> ProtocolOutcomes:
    """The policy's greedy argument for each option of every question (``argue_prompt``), then the judge's
    decision after a debate (the honest argument shown first, and then second) and after consultancy: the one
    argument for the correct option where ``argues_truth``, for the other option elsewhere (Khan et al. 2024)."""
    from ..generation import HFGenerator, SamplingParams

    if len(argues_truth) != len(questions):
        raise AlignlabError(f"argues_truth has {len(argues_truth)} entries for {len(questions)} questions")
    prompts = [argue_prompt(q, side) for q in questions for side in (0, 1)]
    texts = [
        c.text.strip()
        for c in HFGenerator(policy, tokenizer).generate(prompts, SamplingParams(max_new_tokens))
    ]

    def argument(i: int, side: int, role: str) -> Argument:
        return Argument(role, side, texts[2 * i + side], 1)

    def right(cases: list[tuple[DebateQuestion, list[Argument]]]) -> list[int]:
        return [
            int(j.p is not None and (j.p > 0.5) == (q.correct == 0))
            for (q, _), j in zip(cases, judge.judge(cases), strict=True)
        ]

    honest = [q.correct for q in questions]
    return ProtocolOutcomes(
        debate_honest_first=right([(q, [argument(i, c, "proposer"), argument(i, 1 - c, "opponent")])
                                   for i, (q, c) in enumerate(zip(questions, honest, strict=True))]),
        debate_honest_second=right([(q, [argument(i, 1 - c, "proposer"), argument(i, c, "opponent")])
                                    for i, (q, c) in enumerate(zip(questions, honest, strict=True))]),
        consultancy=right([(q, [argument(i, c if t else 1 - c, "consultant")])
                           for i, (q, c, t) in enumerate(zip(questions, honest, argues_truth, strict=True))]),
    )  # fmt: skip


def train_debater(
    policy: "torch.nn.Module",
    tokenizer,
    questions: Sequence[DebateQuestion],
    judge: DebateJudge,
    grpo: "GRPOConfig",
    config: "TrainConfig",
    *,
    chat: bool | None = None,
    options: "RunOptions | None" = None,
    hooks: "LoopHooks | None" = None,
) -> tuple[list[dict[str, float]], list[DebateEpisode]]:
    """GRPO self-play: ``grpo.prompts_per_step`` must be even, as each question's two sides share a step.
    ``hooks`` reach the training loop (e.g. ``after_step`` to score the debater at checkpoints). Returns the
    training log and every judged episode."""
    from ..training import RunOptions
    from ..training.grpo import train_grpo
    from ..training.loop import LoopHooks

    if grpo.prompts_per_step % 2:
        raise AlignlabError(
            f"prompts_per_step must be even (each question is argued from both sides); got {grpo.prompts_per_step}"
        )
    if len(questions) < 1:
        raise AlignlabError("self-play debate needs at least one question")
    reward = SelfPlayDebateReward(judge, questions)
    prompts = [argue_prompt(q, side) for q in questions for side in (0, 1)]
    log = train_grpo(
        policy, tokenizer, prompts, [reward], grpo, config, chat=chat, options=options or RunOptions(),
        hooks=hooks or LoopHooks(),
    )  # fmt: skip
    return log, reward.history
