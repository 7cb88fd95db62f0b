"""prm-vs-orm: process vs outcome supervision of a verifier (Lightman et al. 2023), on multi-step arithmetic
whose step labels a program writes. Both verifiers are trained on the same sampled solutions and read each
solution at the end of every step and at its end; they are compared by the best-of-N accuracy of the
solutions they pick among well-formed, finished ones, and the PRM also guides a step-level beam search."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeCount, OpenProbability, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import auroc_estimate, mean_estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable

END = "<eos>"
"""The end-of-solution position every verifier also reads: a pseudo-step after the last one."""
SEPARATOR = " ;"


class PrmVsOrmConfig(ExperimentConfig):
    min_steps: Count = 3
    max_steps: Count = 5
    operations: tuple[str, ...] = ("+", "-")
    """Addition and subtraction only: with multiplication the verifiers could not learn to check a step in
    the CPU budget (step AUROC 0.73, both picking worse than a random sample)."""
    d_model: Count = 64
    n_layers: Count = 2
    sft_problems: Count = 4000
    sft_steps: Count = 3000
    """At most this many generator steps; it stops once it is right sometimes (below)."""
    sft_target_accuracy: OpenProbability = 0.3
    """The generator's SFT stops at the first check where its sampled solutions to validation problems are
    right this often, so that best-of-N has room; learning is a sharp transition here."""
    sft_check_every: Count = 100
    validation_problems: Count = 100
    sft_lr: LearningRate = 3e-3
    sft_batch_size: Count = 32
    verifier_problems: Count = 1500
    samples_per_problem: Count = 4
    """Generator samples per verifier-training problem, graded by the program; the PRM and the ORM see the
    very same solutions."""
    verifier_steps: Count = 600
    verifier_lr: LearningRate = 1e-3
    verifier_batch_size: Count = 32
    verifier_warmup_steps: NonNegativeCount = 30
    test_problems: Count = 200
    pool_size: Count = 32
    """Samples per test problem; malformed and unfinished ones are dropped."""
    best_of: Count = 16
    """The N of the verdict (best-of-N computed exactly from each pool). Problems whose pool kept fewer
    samples are left out and counted; set before the verdict was scored, so that one degenerate problem cannot
    decide N (it used to be the smallest pool, which ranged from 1 to 21 over seeds 0-2)."""
    beam_width: Count = 4
    expansions: Count = 4
    temperature: PositiveFloat = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> "PrmVsOrmConfig":
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps ({self.min_steps}) must be at most max_steps ({self.max_steps})")
        if self.verifier_warmup_steps > self.verifier_steps:
            raise ValueError("verifier_warmup_steps must be at most verifier_steps")
        return self


CLAIM = Claim(
    paper="Lightman et al. 2023, Let's Verify Step by Step",
    finding="best-of-1860 on MATH: a process-supervised reward model (score = product of step probabilities) "
    "picks a right solution 78.2% of the time, an outcome-supervised one 72.4%; the gap grows with N",
    expectation="with both verifiers trained on the same sampled solutions and scored at every step end and at "
    "the solution's end, over pools of well-formed finished solutions, paired over test problems with two "
    "standard errors: the PRM's pick at N = best_of (16) must beat a single random sample (a verifier that "
    "selects no better than chance verifies nothing); then reproduced if PRM − ORM at that N is "
    "clearly positive and larger than at N = 2, partial if only clearly positive. Not applicable if the PRM "
    "cannot tell right steps from wrong ones on held-out samples (step AUROC not clearly above 0.5), or if fewer "
    "than 75% of test problems kept N samples",
)


class ProblemPool(Record):
    correct: list[int]
    """Per kept sample (well-formed and finished): 1 if its final answer is right."""
    prm: list[float]
    """The PRM's score of each kept sample: Π over its steps and its end of P(correct so far)."""
    orm: list[float]
    """The ORM's P(final answer right), read at the end of the solution."""


class PrmVsOrmRecord(Record):
    pools: list[ProblemPool]
    step_labels: list[int]
    """PRM labels of held-out test samples' steps (up to the first error, and the end), for the AUROC."""
    step_scores: list[float]
    kept_share: float
    """Share of test samples that were well-formed and finished."""
    best_of: int
    generator_sft_steps: int
    beam_accuracy: float
    beam_budget: int


def best_of(pool: ProblemPool, key: str, n: int) -> float:
    import numpy as np

    from ..oversight.best_of_n import expected_best_of_n

    return float(expected_best_of_n(np.array(getattr(pool, key)), np.array(pool.correct, dtype=float), n)[0])


MIN_KEPT_PROBLEMS = 0.75
"""Below this share of test problems with pools of at least N samples, best-of-N speaks for a biased subset."""


def full_pools(record: PrmVsOrmRecord) -> list[ProblemPool]:
    return [p for p in record.pools if len(p.correct) >= record.best_of]


def decide(records: Sequence[PrmVsOrmRecord]) -> Decision:
    auroc = pooled_estimate([auroc_estimate(r.step_labels, r.step_scores) for r in records])
    n = records[0].best_of
    if any(r.best_of != n for r in records):
        raise ValueError("records with different best_of cannot be pooled")
    kept = [full_pools(r) for r in records]
    figures = {"prm_step_auroc": round(auroc.value, 3), "best_of": n, "problems_kept": sum(map(len, kept))}
    if not auroc.clearly_above(0.5):
        return not_applicable(
            f"the PRM cannot tell right steps from wrong on held-out samples (AUROC {auroc})", figures
        )
    if n < 2 or any(
        len(k) < MIN_KEPT_PROBLEMS * max(len(r.pools), 1) for k, r in zip(kept, records, strict=True)
    ):
        return not_applicable(
            f"fewer than {MIN_KEPT_PROBLEMS:.0%} of test problems kept {n} or more well-formed, finished samples "
            "(or N < 2)",
            figures,
        )

    def paired(f) -> object:
        return pooled_estimate([mean_estimate([f(p) for p in pools]) for pools in kept])

    useful = paired(lambda p: best_of(p, "prm", n) - sum(p.correct) / len(p.correct))
    gap = paired(lambda p: best_of(p, "prm", n) - best_of(p, "orm", n))
    growth = paired(
        lambda p: best_of(p, "prm", n) - best_of(p, "orm", n) - best_of(p, "prm", 2) + best_of(p, "orm", 2)
    )

    def mean_of(f) -> float:
        return round(sum(f(p) for pools in kept for p in pools) / sum(map(len, kept)), 3)

    figures |= {
        f"best_of_{n}_prm": mean_of(lambda p: best_of(p, "prm", n)),
        f"best_of_{n}_orm": mean_of(lambda p: best_of(p, "orm", n)),
        "one_sample": mean_of(lambda p: sum(p.correct) / len(p.correct)),
        "prm_minus_orm_at_best_of": round(gap.value, 3),
    }
    reasons = [
        f"the PRM's step AUROC is {auroc}",
        f"{figures['problems_kept']} test problems (of {sum(len(r.pools) for r in records)}) kept {n} or more samples",
        f"best-of-{n}: the PRM's pick beats one random sample by {useful}; PRM − ORM {gap}; its growth from N = 2 {growth}",
    ]
    if not useful.clearly_above(0):
        return Decision(
            "not_reproduced", (*reasons, "the PRM's pick is no better than a random sample"), figures
        )
    return graded(gap.clearly_above(0) and growth.clearly_above(0), gap.clearly_above(0), reasons, figures)


@experiment(
    "prm-vs-orm",
    claim=CLAIM,
    config=PrmVsOrmConfig,
    decide=decide,
    paper_figures={"best_of_1860_prm": 0.782, "best_of_1860_orm": 0.724, "best_of_1860_majority": 0.696},
    presets={
        "cpu": {},
        "gpu": dict(d_model=128, n_layers=4, verifier_problems=4000, test_problems=500, pool_size=128),
    },
)
def prm_vs_orm(cfg: PrmVsOrmConfig, ctx: RunContext) -> Measurement:
    """Train a generator, sample and grade solutions, train a PRM and an ORM on them, compare best-of-N."""
    import numpy as np

    from ..data.arithmetic_chains import ArithmeticChainTask, grade, split_steps, step_result
    from ..data.formats import CompletionExample, StepwiseExample
    from ..generation import HFGenerator, SamplingParams
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..oversight.process_supervision import BeamConfig, step_beam_search
    from ..training import LoopHooks, RunOptions, TrainConfig
    from ..training.process_reward import prm_score, step_probabilities, train_verifier, verifier_from
    from ..training.sft import train_sft

    plt = pyplot()
    task = ArithmeticChainTask(cfg.min_steps, cfg.max_steps, cfg.operations)
    test = task.problems(cfg.test_problems, seed=ctx.seed)
    verifier_train = task.problems(cfg.verifier_problems, seed=ctx.seed + 1, exclude=test)
    validation = task.problems(cfg.validation_problems, seed=ctx.seed + 3, exclude=test + verifier_train)
    sft = task.problems(cfg.sft_problems, seed=ctx.seed + 2, exclude=test + verifier_train + validation)
    tokenizer = word_tokenizer(task.words)
    max_tokens = 8 * cfg.max_steps + 1  # a step is at most "9 9 + 9 = 9 9 ;" (8 words)
    generator_model = build_toy_model(
        ToyModelConfig(d_model=cfg.d_model, n_layers=cfg.n_layers, d_mlp=4 * cfg.d_model, max_seq_len=2 * max_tokens + 16),
        tokenizer, seed=ctx.seed,
    ).to(ctx.device)  # fmt: skip
    generator = HFGenerator(generator_model, tokenizer, chat=False, batch_size=512)

    def sample(problems, k, seed):
        """k sampled solutions per problem, as (steps, finished), problem-major."""
        params = SamplingParams(max_new_tokens=max_tokens, temperature=cfg.temperature, seed=seed)
        outs = generator.generate([p.prompt for p in problems for _ in range(k)], params)
        return [(split_steps(c.text), c.finish_reason == "stop") for c in outs]

    stopped = {}

    def right_sometimes(step: int, model) -> bool:
        if step % cfg.sft_check_every:
            return False
        solutions = sample(validation, 1, ctx.seed + 5)
        accuracy = float(
            np.mean([grade(p, s).final_correct for p, (s, _) in zip(validation, solutions, strict=True)])
        )
        ctx.log(step, generator_sample_accuracy_validation=accuracy)
        model.train()
        stopped["step"] = step
        return accuracy >= cfg.sft_target_accuracy

    train_sft(
        generator_model, tokenizer, [CompletionExample(p.prompt, f"{p.gold_solution} <eos>") for p in sft],
        TrainConfig(steps=cfg.sft_steps, lr=cfg.sft_lr, warmup_steps=cfg.sft_steps // 20, schedule="constant",
                    log_every=cfg.sft_steps),
        batch_size=cfg.sft_batch_size, chat=False, options=RunOptions(seed=ctx.seed, device=ctx.device),
        hooks=LoopHooks(after_step=right_sometimes),
    )  # fmt: skip

    def well_formed(problem, steps, finished) -> bool:
        return (
            finished
            and len(steps) == len(problem.operations)
            and all(step_result(s) is not None for s in steps)
        )

    def labelled(problem, steps, finished) -> tuple[list[str], list[bool], list[bool]]:
        """The steps with the end pseudo-step, PRM labels (up to the first error, then the end: complete and
        right) and ORM labels (the final answer's correctness everywhere)."""
        g = grade(problem, steps, mark_unfinished=False)
        end_ok = well_formed(problem, steps, finished) and g.process_correct
        prm = (g.step_correct + [end_ok])[: (g.first_error + 1) if g.first_error is not None else None]
        return [*steps, END], prm, [g.final_correct] * (len(steps) + 1)

    prm_data, orm_data = [], []
    train_problems = [p for p in verifier_train for _ in range(cfg.samples_per_problem)]
    for problem, (steps, finished) in zip(
        train_problems, sample(verifier_train, cfg.samples_per_problem, ctx.seed), strict=True
    ):
        if steps:
            with_end, prm_labels, orm_labels = labelled(problem, steps, finished)
            prm_data.append(
                StepwiseExample(problem.prompt, tuple(with_end[: len(prm_labels)]), tuple(prm_labels))
            )
            orm_data.append(StepwiseExample(problem.prompt, tuple(with_end), tuple(orm_labels)))
    verifiers = {}
    for name, data in (("prm", prm_data), ("orm", orm_data)):
        model = verifier_from(generator_model)
        train_verifier(
            model, tokenizer, data,
            TrainConfig(steps=cfg.verifier_steps, lr=cfg.verifier_lr, warmup_steps=cfg.verifier_warmup_steps,
                        log_every=max(1, cfg.verifier_steps // 10)),
            batch_size=cfg.verifier_batch_size, separator=SEPARATOR, chat=False,
            options=RunOptions(seed=ctx.seed, device=ctx.device,
                               on_log=ctx.logger(name)),
        )  # fmt: skip
        verifiers[name] = model

    def probabilities(name: str, prompts, solutions) -> list[list[float]]:
        return step_probabilities(
            verifiers[name], tokenizer, prompts, solutions, separator=SEPARATOR, chat=False
        )

    pools, step_labels, step_scores, kept_total, rows = [], [], [], 0, []
    samples = sample(test, cfg.pool_size, ctx.seed + 10)
    for i, problem in enumerate(test):
        mine = samples[i * cfg.pool_size : (i + 1) * cfg.pool_size]
        kept = [(s, f) for s, f in mine if well_formed(problem, s, f)]
        kept_total += len(kept)
        solutions = [[*s, END] for s, _ in kept]
        prm_probs = probabilities("prm", [problem.prompt] * len(kept), solutions) if kept else []
        orm_probs = probabilities("orm", [problem.prompt] * len(kept), solutions) if kept else []
        correct = [int(grade(problem, s).final_correct) for s, _ in kept]
        for (s, f), probs in zip(kept, prm_probs, strict=True):
            labels = labelled(problem, s, f)[1]
            step_labels += [int(x) for x in labels]
            step_scores += probs[: len(labels)]
        pools.append(
            ProblemPool(
                correct=correct, prm=[prm_score(p) for p in prm_probs], orm=[p[-1] for p in orm_probs]
            )
        )
        scored = iter(zip(prm_probs, orm_probs, correct, strict=True))
        for s, f in mine:
            row = dict(prompt=problem.prompt, steps=s, finished=f, kept=well_formed(problem, s, f))
            if row["kept"]:
                prm_step_probs, orm_probs_row, right = next(scored)
                row |= dict(prm_step_probs=prm_step_probs, orm_score=orm_probs_row[-1], correct=bool(right))
            rows.append(row)
    ctx.write_jsonl("test_pool", rows)

    def beam_scores(prompts, partials, ended):
        solutions = [[*steps, END] if done else steps for steps, done in zip(partials, ended, strict=True)]
        return [prm_score(p) for p in probabilities("prm", prompts, solutions)]

    beam = BeamConfig(beam_width=cfg.beam_width, expansions=cfg.expansions, max_steps=cfg.max_steps + 1, step_tokens=9,
                      temperature=cfg.temperature)  # fmt: skip
    searched = step_beam_search(
        generator, beam_scores, [p.prompt for p in test], beam, separator=SEPARATOR, seed=ctx.seed + 20
    )
    record = PrmVsOrmRecord(
        pools=[p for p in pools if p.correct], step_labels=step_labels, step_scores=step_scores,
        kept_share=kept_total / (len(test) * cfg.pool_size), generator_sft_steps=stopped.get("step", cfg.sft_steps),
        beam_accuracy=float(np.mean([grade(p, s).final_correct for p, s in zip(test, searched, strict=True)])),
        beam_budget=cfg.beam_width * cfg.expansions, best_of=cfg.best_of,
    )  # fmt: skip

    full = full_pools(record)
    ns = [2**k for k in range(cfg.best_of.bit_length()) if 2**k <= cfg.best_of]
    curves = {
        key: [float(np.mean([best_of(p, key, n) for p in full])) if full else float("nan") for n in ns]
        for key in ("prm", "orm")
    }
    one = float(np.mean([sum(p.correct) / len(p.correct) for p in full])) if full else float("nan")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (
        ("prm", "PRM (Π step probabilities × end)", "-o"),
        ("orm", "ORM (read at the end)", "-s"),
    ):
        ax.plot(ns, curves[key], style, label=label)
    ax.axhline(one, color="gray", linestyle=":", label="one random sample")
    ax.plot([record.beam_budget], [record.beam_accuracy], "*", markersize=14,
            label=f"PRM beam search ({cfg.beam_width}×{cfg.expansions})")  # fmt: skip
    if ns:
        ax.set_xscale("log", base=2)
    ax.set(
        xlabel="N (well-formed, finished solutions per problem)",
        ylabel="accuracy of the chosen solution",
        title="Best-of-N",
    )
    ax.legend(fontsize=8)
    figure = ctx.figure(fig, "best_of_n", "Best-of-N accuracy on held-out problems, exact over random draws.")
    sections = [
        Section("Plots", [figure]),
        Section(
            "Best-of-N",
            [
                Table(["N", "PRM", "ORM", "PRM − ORM"],
                      [[n, round(curves["prm"][i], 3), round(curves["orm"][i], 3), round(curves["prm"][i] - curves["orm"][i], 3)]
                       for i, n in enumerate(ns)]),
                Text(
                    f"{record.kept_share:.0%} of test samples were well-formed and finished (the rest are dropped from the "
                    f"pools); one kept sample is right {one:.1%} of the time. The generator trained {record.generator_sft_steps} "
                    f"SFT steps. PRM beam search at the budget of best-of-{record.beam_budget}: {record.beam_accuracy:.1%}."
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"Problems chain {cfg.min_steps}–{cfg.max_steps} of the operations {' '.join(cfg.operations)} on a "
                    f"two-digit start (operands up to 9, values kept in 0..99). A {cfg.n_layers}-layer toy Llama (d_model "
                    f"{cfg.d_model}) is fine-tuned on {cfg.sft_problems} gold solutions until its samples are right "
                    f"{cfg.sft_target_accuracy:.0%} of the time on validation problems. {cfg.samples_per_problem} samples for "
                    f"each of {cfg.verifier_problems} further problems are graded by the program: the PRM learns per-step "
                    "labels up to the first error and, at an end-of-solution position, whether the solution is complete and "
                    "right; the ORM learns the final answer's correctness everywhere and is read at the end. Both start from "
                    f"the generator's weights and train {cfg.verifier_steps} steps. {cfg.test_problems} held-out problems get "
                    f"{cfg.pool_size} samples each."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = prm_vs_orm
