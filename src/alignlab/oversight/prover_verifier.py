"""Prover-verifier games (Kirchner et al. 2024): checkability training on verifiable arithmetic.

A small verifier learns to score solutions by whether they are correct; a *helpful* prover is rewarded for
correct solutions the verifier believes, a *sneaky* prover for wrong ones it believes. Each round the verifier
is retrained from scratch on every earlier round's solutions, then both provers are retrained against it.

Provers are rewarded with the signed relative convincingness (SRC) of the paper,

    R_SRC(z | x, role) = (2c − 1)(2h − 1) V′(x, z)   if V′(x, z) > 0,   else −1,

where c says z is correct, h that the role is helpful, and V′ is the verifier's score centred over the
samples for the same problem; correctness-gated convincingness (CGC) is R = P_V(correct) if c = h, else −1.

The provers here are strong at arithmetic: they always know the right value, and what they choose is how to
*write* the chain — where to slip a digit or mis-copy an operand, and which pairs of operations to merge into
one step whose intermediate value goes unwritten. The verifier checks written steps; it reads each as fields
(numbers as value and digits, operators and operands beside the problem's) and multiplies its per-step
probabilities (a noisy AND), trained from the final answer's correctness alone, by class-balanced
cross-entropy where the paper uses a pairwise loss between correct and incorrect solutions. A transformer verifier reading the text did not learn to check a step on
the CPU budget (see prm-vs-orm), which is why this one reads steps as fields.
"""

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data.arithmetic_chains import OPERATIONS, ChainProblem, spell, split_steps
from ..losses import group_advantages
from ..training.rollout import RewardFn

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


# --- reading numbers and steps as fields ---------------------------------------------------------------

NUMBER_WIDTH = 32
"""A number as its value / 100, a sign flag and one-hot hundreds, tens and ones digits."""
SLOT_WIDTH = 2 * (len(_OPS) + 1) + 2 * 12
"""One operation slot of a step: the problem's and the written operator (or none) and operand (or none)."""
STEP_FEATURES = 2 * NUMBER_WIDTH + 2 * SLOT_WIDTH
CONTEXT_FEATURES = NUMBER_WIDTH + len(_OPS) + 12 + 8 + 2


def _number(n: int) -> list[float]:
    out = [n / 100, float(n < 0)] + [0.0] * 30
    m = min(abs(n), 999)
    for k, digit in enumerate((m // 100, m // 10 % 10, m % 10)):
        out[2 + 10 * k + digit] = 1.0
    return out


def _one_hot(index: int | None, size: int) -> list[float]:
    """``index`` of ``size - 1`` classes; None is the last class ("absent")."""
    out = [0.0] * size
    out[size - 1 if index is None else index] = 1.0
    return out


def _operand(b: int | None) -> list[float]:
    """An operand 0..9 as its value / 10 and one-hot, or absent."""
    return [0.0 if b is None else b / 10] + _one_hot(None if b is None or not 0 <= b <= 9 else b, 11)


def step_features(problem: ChainProblem, step: WrittenStep) -> list[float]:
    """What the verifier reads of one step: its start and result, and for up to two operations the problem's
    operator and operand beside the written ones."""
    slots = []
    for k in range(2):
        if k < len(step.covers):
            (p_op, p_b), (w_op, w_b) = problem.operations[step.covers[k]], step.operations[k]
            slots += _one_hot(_OPS[p_op], 3) + _operand(p_b) + _one_hot(_OPS[w_op], 3) + _operand(w_b)
        else:
            slots += _one_hot(None, 3) + _operand(None) + _one_hot(None, 3) + _operand(None)
    return _number(step.start) + slots + _number(step.result)


def encode_solutions(solutions: Sequence[Solution]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, STEP_FEATURES) step fields and an (N, S) mask of real steps, S the most steps of any solution."""
    width = max(len(s.steps) for s in solutions)
    features = torch.zeros(len(solutions), width, STEP_FEATURES)
    mask = torch.zeros(len(solutions), width, dtype=torch.bool)
    for i, solution in enumerate(solutions):
        for j, step in enumerate(solution.steps):
            features[i, j] = torch.tensor(step_features(solution.problem, step))
            mask[i, j] = True
    return features, mask


# --- the verifier -------------------------------------------------------------------------------------


class StepVerifier(nn.Module):
    """P(solution correct) = Π_steps σ(f(step fields)), f an MLP: a noisy AND over steps, which it learns
    from whole-solution labels alone."""

    def __init__(self, hidden: int = 128, layers: int = 2):
        super().__init__()
        sizes = [STEP_FEATURES] + [hidden] * layers
        blocks = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.GELU())]
        self.mlp = nn.Sequential(*blocks, nn.Linear(sizes[-1], 1))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log P(correct), (N,)."""
        step_logp = F.logsigmoid(self.mlp(features).squeeze(-1))
        return (step_logp * mask).sum(-1)


def log_complement(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 − P) from log P ≤ 0, stable near P = 1."""
    return torch.log(-torch.expm1(log_p.clamp(max=-1e-6)))


def log_odds(log_p: torch.Tensor) -> torch.Tensor:
    """log P − log(1 − P)."""
    return log_p - log_complement(log_p)


@dataclass(frozen=True)
class VerifierConfig:
    hidden: int = 128
    layers: int = 2
    steps: int = 1500
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4


def train_step_verifier(solutions: Sequence[Solution], config: VerifierConfig, *, seed: int) -> StepVerifier:
    """A fresh verifier fit to ``solutions``' correctness by binary cross-entropy on log P(correct), with the
    two classes weighted equally (the paper balances correct and incorrect samples)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        verifier = StepVerifier(config.hidden, config.layers)
    features, mask = encode_solutions(solutions)
    labels = torch.tensor([s.correct for s in solutions], dtype=torch.float32)
    positive = labels.mean().clamp(1e-3, 1 - 1e-3)
    weights = torch.where(labels.bool(), 0.5 / positive, 0.5 / (1 - positive))
    optimizer = torch.optim.AdamW(verifier.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.steps):
        idx = torch.randint(len(solutions), (min(config.batch_size, len(solutions)),), generator=generator)
        log_p = verifier(features[idx], mask[idx])
        nll = -(labels[idx] * log_p + (1 - labels[idx]) * log_complement(log_p))
        loss = (weights[idx] * nll).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return verifier.eval()


@torch.no_grad()
def verifier_scores(verifier: StepVerifier, solutions: Sequence[Solution]) -> torch.Tensor:
    """The verifier's log-odds that each solution is correct, (N,); > 0 means it accepts."""
    return log_odds(verifier(*encode_solutions(solutions)))


# --- prover rewards -----------------------------------------------------------------------------------


def role_aligned(correct: torch.Tensor, role: Role) -> torch.Tensor:
    return correct.bool() == (role == "helpful")


def src_reward(scores: torch.Tensor, correct: torch.Tensor, role: Role, group_size: int) -> torch.Tensor:
    """Signed relative convincingness; ``scores`` laid out as consecutive groups per problem."""
    centred = (scores.view(-1, group_size) - scores.view(-1, group_size).mean(1, keepdim=True)).view(-1)
    sign = role_aligned(correct, role).float() * 2 - 1
    return torch.where(centred > 0, sign * centred, torch.full_like(centred, -1.0))


def cgc_reward(
    scores: torch.Tensor, correct: torch.Tensor, role: Role, penalty: float = -1.0
) -> torch.Tensor:
    """Correctness-gated convincingness: the verifier's probability of correct, σ(score), when the role is met,
    else ``penalty``, which must lie below every verifier score: log-odds have no floor, so with a penalty of,
    say, −2 on the log-odds scale a sneaky prover caught at −10 would do better by turning honest."""
    return torch.where(role_aligned(correct, role), torch.sigmoid(scores), torch.full_like(scores, penalty))


# --- the provers --------------------------------------------------------------------------------------


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


def _context(
    value: int, op: str, operand: int, position: int, merged_before: bool, last: bool
) -> list[float]:
    return (
        _number(value)
        + [float(op == o) for o in GAME_OPERATIONS]
        + _operand(operand)
        + _one_hot(min(position, 7), 8)
        + [float(merged_before), float(last)]
    )


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
            contexts.append(_context(values[i], op, operand, position, merged_before, last))
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


@dataclass(frozen=True)
class ProverConfig:
    steps: int = 150
    problems_per_step: int = 32
    group_size: int = 8
    """Solutions sampled per problem; rewards are compared within a problem's group (GRPO's advantages)."""
    lr: float = 3e-3
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
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    history = []
    for _ in range(config.steps):
        idx = torch.randint(len(problems), (config.problems_per_step,), generator=generator).tolist()
        batch = [problems[i] for i in idx for _ in range(config.group_size)]
        solutions, log_prob = sample_solutions(policy, batch, generator)
        correct = torch.tensor([s.correct for s in solutions])
        scores = None if verifier is None else verifier_scores(verifier, solutions)
        rewards = prover_rewards(correct, scores, role, config)
        advantages = group_advantages(rewards, config.group_size)
        loss = -(advantages * log_prob).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(
            dict(
                reward=rewards.mean().item(),
                correct=correct.float().mean().item(),
                accepted=float("nan") if scores is None else (scores > 0).float().mean().item(),
                wrong_and_accepted=float("nan")
                if scores is None
                else ((scores > 0) & ~correct).float().mean().item(),
                merged=sum(s.merged_share for s in solutions) / len(solutions),
            )
        )
    return history


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
