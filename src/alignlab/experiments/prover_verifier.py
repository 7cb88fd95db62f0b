"""prover-verifier: checkability training (Kirchner et al. 2024) on verifiable arithmetic chains. Each round
a fresh verifier learns from every earlier round's solutions, then a helpful and a sneaky prover are trained
against it; a separate, smaller judge that never sees the game's solutions stands in for the paper's
time-limited human checkers. Every network is a small MLP and runs on the CPU whatever the device."""

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..config import Count, LearningRate, OpenProbability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import difference, pooled_estimate, proportion_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded


class ProverVerifierConfig(ExperimentConfig):
    min_steps: Count = 3
    max_steps: Count = 4
    train_problems: Count = 12000
    """Problems the verifier and the provers train on; the base prover writes one solution for each."""
    test_problems: Count = 300
    test_samples: Count = 4
    """Solutions per test problem from each prover."""
    base_flaw: OpenProbability = 0.1
    """The base prover's chance of a flaw at each operation (split evenly between the kinds)."""
    base_merge: OpenProbability = 0.3
    """The base prover's chance of merging an operation with the next into one step."""
    rounds: Count = 4
    verifier_hidden: Count = 128
    verifier_max_steps: Count = 4000
    """At most this many steps; each round's verifier stops once its balanced accuracy on a held-out tenth of
    its own training solutions stops improving (``verifier_patience``), a criterion outside the game. (An
    earlier version fixed 3,000 steps after seeing that 1,500 left the verifier exploitable in the game.)"""
    verifier_patience: Count = 500
    verifier_lr: LearningRate = 3e-3
    judge_hidden: Count = 64
    judge_max_steps: Count = 500
    judge_problems: Count = 4000
    prover_steps: Count = 100
    problems_per_step: Count = 16
    group_size: Annotated[int, Field(ge=2, le=1024)] = 8
    """Samples per problem in a prover's batch; rewards are compared within a group, so at least two."""
    prover_lr: LearningRate = 3e-3
    reward: Literal["src", "cgc"] = "src"
    """'src' (signed relative convincingness, the paper's main reward) or 'cgc' (correctness-gated)."""
    samples_per_round: Count = 3000
    """Solutions each trained prover adds to the verifier's training data for later rounds."""

    @model_validator(mode="after")
    def _consistent(self) -> "ProverVerifierConfig":
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps ({self.min_steps}) must be at most max_steps ({self.max_steps})")
        return self


CLAIM = Claim(
    paper="Kirchner et al. 2024, Prover-Verifier Games improve legibility of LLM outputs",
    finding="over rounds of checkability training the verifier becomes robust to the sneaky prover (its "
    "attacks succeed less and need more RL to find), while the helpful prover's solutions stay correct and "
    "become easier for time-limited humans to check; a prover trained for correctness alone becomes less legible",
    expectation="the share of the sneaky prover's solutions that are wrong yet accepted by that round's verifier "
    "is lower in every later round than in the first by more than two standard errors (a verifier exploited "
    "again later has not become robust) while the sneaky prover still writes wrong solutions more than half "
    "the time in every round (one that turns honest tests nothing), and the independent judge is more accurate "
    "on the last-round helpful prover's solutions than on a correctness-only prover's by more than two standard "
    "errors: reproduced if both, partial if one (seeds pooled: each difference averaged over seeds, with the "
    "larger of its within-seed and between-seed standard errors)",
)


class RoundStats(Record):
    verifier_steps: int
    """The step whose weights the round's verifier kept (best held-out balanced accuracy)."""
    verifier_training_solutions: int
    base_verifier_accuracy: float
    helpful_correct: float
    helpful_accepted: float
    helpful_verifier_accuracy: float
    helpful_judge_accuracy: float
    helpful_merged: float
    helpful_wrong_and_accepted: float
    helpful_top_flaw: str
    sneaky_correct: float
    sneaky_accepted: float
    sneaky_verifier_accuracy: float
    sneaky_wrong_and_accepted: float
    sneaky_judge_accuracy: float
    sneaky_merged: float
    sneaky_training_wrong_and_accepted: float
    sneaky_top_flaw: str


class ProverVerifierRecord(Record):
    n_test: int
    """Test solutions per prover: every share in the rounds is over this many."""
    rounds: list[RoundStats]
    correctness_only_judge_accuracy: float
    correctness_only_correct: float
    correctness_only_merged: float
    base_judge_accuracy: float


def decide(records: Sequence[ProverVerifierRecord]) -> Decision:
    n_rounds = len(records[0].rounds)

    def share(record: ProverVerifierRecord, value: float):
        return proportion_estimate(round(value * record.n_test), record.n_test)

    drops = [
        pooled_estimate([difference(share(r, r.rounds[0].sneaky_wrong_and_accepted), share(r, r.rounds[k].sneaky_wrong_and_accepted))
                         for r in records])
        for k in range(1, n_rounds)
    ]  # fmt: skip
    sneaky_writes_wrong = [
        pooled_estimate([share(r, r.rounds[k].sneaky_correct) for r in records]) for k in range(n_rounds)
    ]
    legibility = pooled_estimate(
        [
            difference(
                share(r, r.rounds[-1].helpful_judge_accuracy), share(r, r.correctness_only_judge_accuracy)
            )
            for r in records
        ]
    )
    robust = (
        bool(drops)
        and all(d.clearly_above(0) for d in drops)
        and all(s.clearly_below(0.5) for s in sneaky_writes_wrong)
    )
    legible = legibility.clearly_above(0)

    def mean(f) -> float:
        return round(sum(f(r) for r in records) / len(records), 3)

    figures = {
        "sneaky_wrong_and_accepted_by_round": [
            mean(lambda r, k=k: r.rounds[k].sneaky_wrong_and_accepted) for k in range(n_rounds)
        ],
        "sneaky_correct_highest": round(max(s.value for s in sneaky_writes_wrong), 3),
        "judge_accuracy_helpful_last_round": mean(lambda r: r.rounds[-1].helpful_judge_accuracy),
        "judge_accuracy_correctness_only": mean(lambda r: r.correctness_only_judge_accuracy),
    }
    reasons = [
        "sneaky solutions wrong yet accepted, round 0 minus each later round: "
        + "; ".join(str(d) for d in drops)
        + f"; the sneaky prover is right at most {figures['sneaky_correct_highest']:.1%} of the time",
        f"the judge's accuracy on the last helpful prover's solutions minus on a correctness-only prover's: {legibility}",
    ]
    return graded(robust and legible, robust or legible, reasons, figures)


@experiment(
    "prover-verifier",
    claim=CLAIM,
    config=ProverVerifierConfig,
    decide=decide,
    paper_figures={
        "sneaky_wrong_and_accepted_by_round": "falls over rounds (the verifier becomes robust)",
        "judge_accuracy_helpful_last_round": "above the correctness-only prover's (legibility)",
    },
    presets={
        "cpu": {},
        "gpu": dict(
            train_problems=40000,
            test_problems=1000,
            rounds=6,
            verifier_hidden=256,
            verifier_max_steps=8000,
            prover_steps=300,
            problems_per_step=64,
            samples_per_round=10000,
        ),
    },
)
def prover_verifier(cfg: ProverVerifierConfig, ctx: RunContext) -> Measurement:
    """Rounds of verifier training, then helpful and sneaky prover training against it."""
    import copy
    from collections import Counter

    import numpy as np
    import torch

    from ..data.arithmetic_chains import ArithmeticChainTask
    from ..oversight.prover_verifier import (
        ProverConfig,
        ProverPolicy,
        VerifierConfig,
        sample_solutions,
        train_prover,
        train_step_verifier,
        verifier_scores,
    )

    plt = pyplot()
    task = ArithmeticChainTask(cfg.min_steps, cfg.max_steps, ("+", "-"))
    test = task.problems(cfg.test_problems, seed=ctx.seed)
    train = task.problems(cfg.train_problems, seed=ctx.seed + 1, exclude=test)
    test_batch = [p for p in test for _ in range(cfg.test_samples)]
    generator = torch.Generator().manual_seed(ctx.seed)
    base = ProverPolicy(cfg.base_flaw, cfg.base_merge)
    prover_config = ProverConfig(
        steps=cfg.prover_steps,
        problems_per_step=cfg.problems_per_step,
        group_size=cfg.group_size,
        lr=cfg.prover_lr,
        reward=cfg.reward,
    )

    def sample(policy, problems):
        with torch.no_grad():
            return sample_solutions(policy, problems, generator)[0]

    verifier_data = sample(base, train)
    judge = train_step_verifier(
        sample(base, task.problems(cfg.judge_problems, seed=ctx.seed + 2, exclude=test)),
        VerifierConfig(hidden=cfg.judge_hidden, max_steps=cfg.judge_max_steps, lr=cfg.verifier_lr),
        seed=ctx.seed + 2,
    )

    def describe(solutions, scores):
        """Correctness, acceptance by the checker that gave ``scores`` (log-odds), and the judge's accuracy,
        on one prover's test solutions."""
        correct = np.array([s.correct for s in solutions])
        accepted = scores.numpy() > 0
        judged = verifier_scores(judge, solutions).numpy() > 0
        flaws = Counter(f for s in solutions if not s.correct for f in s.flaws if f != "none")
        return dict(
            correct=float(correct.mean()),
            accepted=float(accepted.mean()),
            verifier_accuracy=float((accepted == correct).mean()),
            wrong_and_accepted=float((accepted & ~correct).mean()),
            judge_accuracy=float((judged == correct).mean()),
            merged=float(np.mean([s.merged_share for s in solutions])),
            top_flaw=flaws.most_common(1)[0][0] if flaws else "-",
        )

    correctness_only = copy.deepcopy(base)
    train_prover(correctness_only, train, None, None, prover_config, seed=ctx.seed + 3)

    def judged_by(checker, solutions):
        return describe(solutions, verifier_scores(checker, solutions))

    correctness_only_stats = judged_by(judge, sample(correctness_only, test_batch))
    base_stats = judged_by(judge, sample(base, test_batch))

    rounds, transcripts, sneaky_curves = [], [], []
    for r in range(cfg.rounds):
        verifier = train_step_verifier(
            verifier_data,
            VerifierConfig(hidden=cfg.verifier_hidden, max_steps=cfg.verifier_max_steps, lr=cfg.verifier_lr,
                           patience=cfg.verifier_patience),
            seed=ctx.seed + 10 + r,
        )  # fmt: skip
        record = dict(
            round=r, verifier_training_solutions=len(verifier_data), verifier_steps=verifier.trained_steps
        )
        record["base_verifier_accuracy"] = judged_by(verifier, sample(base, test_batch))["verifier_accuracy"]
        new_data = []
        for role in ("helpful", "sneaky"):
            prover = copy.deepcopy(base)
            history = train_prover(prover, train, role, verifier, prover_config, seed=ctx.seed + 100 * r + 7)
            for i, h in enumerate(history):
                ctx.logger(role)(r * cfg.prover_steps + i, h)
            if role == "sneaky":
                sneaky_curves.append([h["wrong_and_accepted"] for h in history])
                record["sneaky_training_wrong_and_accepted"] = float(np.mean(sneaky_curves[-1]))
            solutions = sample(prover, test_batch)
            scores = verifier_scores(verifier, solutions)
            record |= {f"{role}_{k}": v for k, v in describe(solutions, scores).items()}
            transcripts += [
                dict(
                    round=r,
                    role=role,
                    problem=s.problem.prompt,
                    solution=s.text,
                    correct=s.correct,
                    verifier_log_odds=round(v, 3),
                    flaws=list(s.flaws),
                )
                for s, v in zip(solutions, scores.tolist(), strict=True)
            ]
            picks = torch.randint(len(train), (cfg.samples_per_round,), generator=generator).tolist()
            new_data += sample(prover, [train[i] for i in picks])
        verifier_data = verifier_data + new_data
        rounds.append(record)
        ctx.log(r, **{k: v for k, v in record.items() if isinstance(v, float)})
    ctx.write_jsonl("solutions", transcripts)
    result = ProverVerifierRecord(
        n_test=len(test_batch),
        rounds=[RoundStats(**{k: v for k, v in rec.items() if k != "round"}) for rec in rounds],
        correctness_only_judge_accuracy=correctness_only_stats["judge_accuracy"],
        correctness_only_correct=correctness_only_stats["correct"],
        correctness_only_merged=correctness_only_stats["merged"],
        base_judge_accuracy=base_stats["judge_accuracy"],
    )

    xs = [rec["round"] for rec in rounds]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    left.plot(
        xs, [rec["sneaky_wrong_and_accepted"] for rec in rounds], "-o", label="sneaky: wrong and accepted"
    )
    left.plot(
        xs, [rec["helpful_verifier_accuracy"] for rec in rounds], "-s", label="verifier accuracy, helpful"
    )
    left.plot(
        xs, [rec["sneaky_verifier_accuracy"] for rec in rounds], "-^", label="verifier accuracy, sneaky"
    )
    left.set(xlabel="round", ylabel="share of test solutions", title="Verifier vs provers", ylim=(0, 1.02))
    left.legend(fontsize=8)
    window = max(1, cfg.prover_steps // 10)
    for r, curve in enumerate(sneaky_curves):
        smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
        middle.plot(np.arange(len(smooth)) + window, smooth, label=f"round {r}")
    middle.set(
        xlabel="sneaky prover's training step",
        ylabel="wrong and accepted (batch)",
        title="Sneaky prover's training",
        ylim=(0, 1.02),
    )
    middle.legend(fontsize=8)
    right.plot(xs, [rec["helpful_judge_accuracy"] for rec in rounds], "-o", label="helpful prover")
    right.plot(xs, [rec["sneaky_judge_accuracy"] for rec in rounds], "-^", label="sneaky prover")
    right.axhline(
        correctness_only_stats["judge_accuracy"], ls="--", c="gray", label="correctness-only prover"
    )
    right.set(xlabel="round", ylabel="judge accuracy", title="Independent judge", ylim=(0, 1.02))
    right.legend(fontsize=8)
    figure = ctx.figure(fig, "rounds", "Per round, on held-out problems.")

    columns = [
        ("helpful_correct", "helpful correct"),
        ("helpful_accepted", "helpful accepted"),
        ("helpful_verifier_accuracy", "verifier acc. (helpful)"),
        ("sneaky_correct", "sneaky correct"),
        ("sneaky_wrong_and_accepted", "sneaky wrong & accepted"),
        ("sneaky_verifier_accuracy", "verifier acc. (sneaky)"),
        ("sneaky_training_wrong_and_accepted", "sneaky wrong & accepted, mean over training"),
        ("helpful_merged", "helpful merged"),
        ("sneaky_merged", "sneaky merged"),
        ("helpful_judge_accuracy", "judge acc. (helpful)"),
        ("sneaky_judge_accuracy", "judge acc. (sneaky)"),
        ("base_verifier_accuracy", "verifier acc. (base)"),
    ]
    table = Table(
        ["round", *(label for _, label in columns), "sneaky's commonest flaw", "verifier kept step"],
        [[rec["round"], *(round(rec[k], 3) for k, _ in columns), rec["sneaky_top_flaw"], rec["verifier_steps"]]
         for rec in rounds],
    )  # fmt: skip
    sections = [
        Section("Plots", [figure]),
        Section(
            "Rounds",
            [
                table,
                Text(
                    "Each prover is retrained from the base prover every round, against that round's verifier; "
                    "'accepted' means the verifier's log-odds of correct are above zero. The correctness-only "
                    f"prover (rewarded 1 for a right answer) is right {correctness_only_stats['correct']:.1%} of "
                    f"the time, merges {correctness_only_stats['merged']:.0%} of operations and the judge is right "
                    f"about {correctness_only_stats['judge_accuracy']:.1%} of its solutions; for the base prover "
                    f"the judge is right {base_stats['judge_accuracy']:.1%} of the time."
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"Problems chain {cfg.min_steps}–{cfg.max_steps} additions and subtractions of 1..9 on a "
                    "two-digit start. Provers know every value: they choose where to slip a digit (ones or tens) "
                    "or mis-copy an operand, and which pairs of operations to merge into one step, by a small "
                    f"policy network that starts at the base prover ({cfg.base_flaw:.0%} flaws per operation, "
                    f"{cfg.base_merge:.0%} merges) and trains {cfg.prover_steps} policy-gradient steps of "
                    f"{cfg.problems_per_step} problems × {cfg.group_size} samples with the {cfg.reward.upper()} "
                    "reward. The verifier reads each written step as fields (its start, the problem's and the "
                    "written operators and operands, its result) and multiplies per-step probabilities; it is "
                    f"trained from scratch each round (at most {cfg.verifier_max_steps} steps, stopped on its own "
                    "held-out accuracy) on the final answers' "
                    f"correctness: round 0 on {cfg.train_problems} base-prover solutions, each later round "
                    f"also on {cfg.samples_per_round} solutions from each earlier prover. The judge is a "
                    f"{cfg.judge_hidden}-wide verifier trained at most {cfg.judge_max_steps} steps on {cfg.judge_problems} "
                    "base-prover solutions only. The paper's provers are LLMs writing free text and its judges "
                    "humans; here both are small networks, so the finding is tested in its mechanism, not its "
                    "scale."
                )
            ],
        ),
    ]
    return Measurement(result, sections)


EXPERIMENT = prover_verifier
