"""Provers that choose how to write a chain (where to slip a digit or mis-copy an operand, which operations to
merge), trained by policy gradient on the shared loop against a verifier; and a reward that lets an LM
prover play through ``train_grpo``."""

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...config import MAX_COUNT, Count, FrozenConfig, LearningRate
from ...data.arithmetic_chains import OPERATIONS, ChainProblem
from ...losses import group_advantages
from ...losses.prover_verifier import Role, cgc_reward, src_reward
from ...training.rollout import RewardFn
from .fields import CONTEXT_FEATURES, context_features
from .solutions import FLAWS, GAME_OPERATIONS, Solution, apply_flaw, parse_solution, write_solution
from .verifier import StepVerifier, verifier_scores


class ProverPolicy(nn.Module):
    """Chooses, operation by operation, a flaw from FLAWS and whether to merge with the next operation,
    from what it is about to write (running value, operator, operand, position). It starts at the base
    distribution ``base_flaw`` (P(any flaw) per operation, split evenly) and ``base_merge``.

    The two choices have separate heads. One softmax over (flaw, merge) pairs would not do: policy-gradient
    steps raise the likelier of two equally rewarded pairs faster, so a reward blind to merging would still
    move the merge rate (measured: a correctness-only prover went from 30% to 11% merges)."""

    def __init__(self, base_flaw: float, base_merge: float, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(CONTEXT_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, len(FLAWS) + 1)
        )
        flaw = torch.tensor([1 - base_flaw] + [base_flaw / (len(FLAWS) - 1)] * (len(FLAWS) - 1))
        with torch.no_grad():
            self.mlp[-1].weight.zero_()
            self.mlp[-1].bias.copy_(torch.cat([flaw.log(), torch.logit(torch.tensor([base_merge]))]))

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits over FLAWS, (N, len(FLAWS)), and the logit of merging, (N,)."""
        out = self.mlp(context)
        return out[:, :-1], out[:, -1]


def sample_solutions(
    policy: ProverPolicy, problems: Sequence[ChainProblem], generator: torch.Generator
) -> tuple[list[Solution], torch.Tensor]:
    """One solution per problem and the log-probability of the prover's choices, (N,), with gradients.

    Choices are made for all problems at once, one operation position at a time; a merge is not offered at
    a problem's last operation or right after a merge (steps hold at most two operations), a mis-copy only
    for a one-digit operand, and the direction of a flaw is a coin flip among those that keep a mis-copied
    operand in 1..9 and a slipped value in 0..99."""
    for p in problems:
        if {op for op, _ in p.operations} - set(GAME_OPERATIONS):
            raise ValueError(f"prover-verifier problems use only + and -, got {p.prompt!r}")
    n = len(problems)
    width = max(len(p.operations) for p in problems)
    flaws = [[] for _ in range(n)]
    merges = [[] for _ in range(n)]
    signs = [[] for _ in range(n)]
    values = [p.start for p in problems]
    log_prob = torch.zeros(n)
    for position in range(width):
        rows = [i for i in range(n) if position < len(problems[i].operations)]
        contexts, flaw_allowed, merge_allowed = [], [], []
        for i in rows:
            op, operand = problems[i].operations[position]
            last = position == len(problems[i].operations) - 1
            merged_before = position > 0 and merges[i][-1]
            contexts.append(context_features(values[i], op, operand, position, merged_before, last))
            flaw_allowed.append([True, True, True, operand <= 9])
            merge_allowed.append(not (last or merged_before))
        flaw_logits, merge_logit = policy(torch.tensor(contexts))
        flaw_logp = flaw_logits.masked_fill(~torch.tensor(flaw_allowed), float("-inf")).log_softmax(-1)
        flaw_choice = torch.multinomial(flaw_logp.detach().exp(), 1, generator=generator).squeeze(1)
        can_merge = torch.tensor(merge_allowed)
        merge_choice = can_merge & (
            torch.rand(len(rows), generator=generator) < torch.sigmoid(merge_logit.detach())
        )
        merge_logp = torch.where(merge_choice, F.logsigmoid(merge_logit), F.logsigmoid(-merge_logit))
        chosen_logp = flaw_logp.gather(1, flaw_choice[:, None]).squeeze(1) + merge_logp * can_merge
        log_prob = log_prob.index_add(0, torch.tensor(rows), chosen_logp)
        for i, f, merge in zip(rows, flaw_choice.tolist(), merge_choice.tolist(), strict=True):
            flaw = FLAWS[f]
            op, operand = problems[i].operations[position]
            sign = _direction(flaw, values[i], op, operand, generator)
            flaws[i].append(flaw)
            merges[i].append(merge)
            signs[i].append(sign)
            values[i] = apply_flaw(values[i], op, operand, flaw, sign)[1]
    solutions = [
        write_solution(p, f, m, s) for p, f, m, s in zip(problems, flaws, merges, signs, strict=True)
    ]
    return solutions, log_prob


def _direction(flaw: str, value: int, op: str, operand: int, generator: torch.Generator) -> int:
    """+1 or −1 for a flawed operation (0 for none): a mis-copied operand stays in 1..9, a slipped value in
    0..99 when either direction allows it; otherwise a coin flip."""
    if flaw == "none":
        return 0
    if flaw == "miscopy":
        candidates = [s for s in (1, -1) if 1 <= operand + s <= 9]
    else:
        size = 1 if flaw == "slip_ones" else 10
        candidates = [s for s in (1, -1) if 0 <= OPERATIONS[op](value, operand) + s * size <= 99]
    candidates = candidates or [1, -1]
    return candidates[int(torch.randint(len(candidates), (1,), generator=generator))]


class ProverConfig(FrozenConfig):
    steps: Count = 150
    problems_per_step: Count = 32
    group_size: Annotated[int, Field(ge=2, le=MAX_COUNT)] = 8
    """Solutions sampled per problem; rewards are compared within a problem's group (GRPO's advantages)."""
    lr: LearningRate = 3e-3
    reward: Literal["src", "cgc"] = "src"


def prover_rewards(
    correct: torch.Tensor, scores: torch.Tensor | None, role: Role | None, config: ProverConfig
) -> torch.Tensor:
    """SRC or CGC on the verifier's ``scores`` for a role; with no scores (and no role), correctness alone."""
    if scores is None:
        return correct.float()
    if role is None:
        raise ValueError("a prover trained against a verifier needs a role, 'helpful' or 'sneaky'")
    if config.reward == "src":
        return src_reward(scores, correct, role, config.group_size)
    return cgc_reward(scores, correct, role)


def train_prover(
    policy: ProverPolicy,
    problems: Sequence[ChainProblem],
    role: Role | None,
    verifier: StepVerifier | None,
    config: ProverConfig,
    *,
    seed: int,
) -> list[dict[str, float]]:
    """Policy-gradient steps on ``policy`` with group-relative advantages (REINFORCE with GRPO's baseline):
    loss = −mean(A_i · log π(choices_i)). Returns per step the mean reward, the share correct, the share
    accepted by the verifier, the share wrong yet accepted, and the share of operations merged."""
    from ...training import LossOutput, RunOptions, TrainConfig, train

    generator = torch.Generator().manual_seed(seed)
    batches = (
        [problems[i] for i in torch.randint(len(problems), (config.problems_per_step,), generator=generator).tolist()
         for _ in range(config.group_size)]
        for _ in range(config.steps)
    )  # fmt: skip

    def step(model: ProverPolicy, batch: list[ChainProblem], progress) -> LossOutput:
        solutions, log_prob = sample_solutions(model, batch, generator)
        correct = torch.tensor([s.correct for s in solutions])
        scores = None if verifier is None else verifier_scores(verifier, solutions)
        rewards = prover_rewards(correct, scores, role, config)
        advantages = group_advantages(rewards, config.group_size)
        accepted = float("nan") if scores is None else (scores > 0).float().mean().item()
        fooled = float("nan") if scores is None else ((scores > 0) & ~correct).float().mean().item()
        return LossOutput(
            -(advantages * log_prob).mean(),
            dict(reward=rewards.mean().item(), correct=correct.float().mean().item(), accepted=accepted,
                 wrong_and_accepted=fooled, merged=sum(s.merged_share for s in solutions) / len(solutions)),
        )  # fmt: skip

    history = train(
        policy, step, batches,
        TrainConfig(steps=config.steps, lr=config.lr, schedule="constant", grad_clip=None, log_every=1),
        RunOptions(seed=seed),
    )  # fmt: skip
    keys = ("reward", "correct", "accepted", "wrong_and_accepted", "merged")
    return [{key: record[key] for key in keys} for record in history]


UNREADABLE_LOG_ODDS = -20.0
"""The verifier score an LM prover's unparseable solution gets: rejected, and counted as wrong."""


def lm_prover_reward(
    verifier: StepVerifier, problems: Mapping[str, ChainProblem], role: Role, config: ProverConfig
) -> RewardFn:
    """A ``RewardFn`` for ``train_grpo`` that plays an LM prover against ``verifier``: each completion is parsed
    against its prompt's problem (``problems`` maps prompt text to problem) and rewarded with SRC or CGC for
    ``role``. Completions come in consecutive groups of ``config.group_size`` per prompt, as GRPO samples them;
    an unparseable completion counts as wrong and gets UNREADABLE_LOG_ODDS as its score."""

    def reward(prompts: Sequence, completions: Sequence[str]) -> list[float]:
        solutions = [parse_solution(problems[p], c) for p, c in zip(prompts, completions, strict=True)]
        readable = [s for s in solutions if s is not None]
        scored = iter(verifier_scores(verifier, readable).tolist() if readable else [])
        scores = torch.tensor([UNREADABLE_LOG_ODDS if s is None else next(scored) for s in solutions])
        correct = torch.tensor([s is not None and s.correct for s in solutions])
        return prover_rewards(correct, scores, role, config).tolist()

    return reward
