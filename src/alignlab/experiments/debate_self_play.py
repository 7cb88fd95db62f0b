"""debate-self-play: debaters optimised for persuasiveness against a judge, in debate and in consultancy
(Khan et al. 2024), on the sparse-pixel digits task where a small judge is well above chance.

The optimiser is best-of-n selection of arguments: at every move an agent draws n candidate pixels and reveals
the one that most raises the judge's belief in its own label (n = 1 reveals random pixels). Both debaters, or
the single consultant, get the same n; the judge stays fixed. This is a toy judge and toy debaters, labelled as
such: the gpu preset of ``debate-qa`` is where LLM debaters belong.
"""

from collections.abc import Sequence

from ..config import Count, OpenProbability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable


class DebateSelfPlayConfig(ExperimentConfig):
    pixels: Count = 4
    """Pixels revealed per image (two per debater)."""
    strengths: tuple[Count, ...] = (1, 2, 4, 8, 16, 32)
    """Best-of-n for every agent, weakest first; the verdict compares the last with the first."""
    masks_per_image: Count = 20
    hidden: Count = 256
    test_fraction: OpenProbability = 0.2


CLAIM = Claim(
    paper="Khan et al. 2024, Debating with More Persuasive LLMs Leads to More Truthful Answers",
    finding="optimising debaters for persuasiveness raises a non-expert judge's accuracy in debate (LLM judges "
    "reach 76%, humans 88%), while in consultancy, where one advocate argues for an answer that is wrong half the "
    "time, stronger advocates do not help the judge (its accuracy falls as consultants grow more persuasive)",
    expectation="a sparse-pixel judge (an MLP that sees k = 4 of a digit's pixels) chooses between the true label "
    "and a random lie; agents reveal pixels by best-of-n against it, n from 1 (random pixels) to 32. Paired over "
    "test images and pooled over seeds: (a) debate accuracy at the largest n minus at n = 1 (both speaking orders "
    "averaged) is clearly above zero, and (b) that gain minus consultancy's gain over the same n (the consultant "
    "argues for the truth on a random half of the images) is clearly above zero, each by two standard errors. "
    "Reproduced if both, partial if one; not applicable if the judge's two-label accuracy with random pixels is "
    "not clearly above 0.5 (nothing for debate to amplify)",
)


class StrengthOutcomes(Record):
    """Per test image, 0/1: whether the judge ends preferring the true label, with agents of best-of-n."""

    n: int
    debate_honest_first: list[int]
    debate_honest_second: list[int]
    consultancy: list[int]


class DebateSelfPlayRecord(Record):
    random_two_labels: list[int]
    """The judge prefers the truth over the lie with k random pixels (the pre-check)."""
    argues_truth: list[int]
    """Per image, whether the consultant was assigned the true label."""
    outcomes: list[StrengthOutcomes]


def _debate(o: StrengthOutcomes) -> list[float]:
    return [(a + b) / 2 for a, b in zip(o.debate_honest_first, o.debate_honest_second, strict=True)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _persuaded(o: StrengthOutcomes, argues_truth: Sequence[int]) -> float:
    """How often a lying consultant wins the judge over."""
    lies = [1 - right for right, honest in zip(o.consultancy, argues_truth, strict=True) if not honest]
    return _mean(lies) if lies else float("nan")


def decide(records: Sequence[DebateSelfPlayRecord]) -> Decision:
    check = pooled_estimate([mean_estimate(r.random_two_labels) for r in records])
    weak, strong = (lambda r: r.outcomes[0]), (lambda r: r.outcomes[-1])
    n_weak, n_strong = records[0].outcomes[0].n, records[0].outcomes[-1].n
    figures = {
        "two_label_accuracy_random_pixels": round(check.value, 3),
        f"debate_accuracy_n{n_weak}": round(_mean([_mean(_debate(weak(r))) for r in records]), 3),
        f"debate_accuracy_n{n_strong}": round(_mean([_mean(_debate(strong(r))) for r in records]), 3),
        f"consultancy_accuracy_n{n_weak}": round(_mean([_mean(weak(r).consultancy) for r in records]), 3),
        f"consultancy_accuracy_n{n_strong}": round(_mean([_mean(strong(r).consultancy) for r in records]), 3),
        f"lying_consultant_persuades_n{n_strong}": round(
            _mean([_persuaded(strong(r), r.argues_truth) for r in records]), 3
        ),
    }
    if not check.clearly_above(0.5):
        return not_applicable(
            f"the judge prefers the truth over a random lie with random pixels {check}: not clearly above 0.5",
            figures,
        )
    debate_gain = pooled_estimate([
        mean_estimate([b - a for a, b in zip(_debate(weak(r)), _debate(strong(r)), strict=True)]) for r in records
    ])  # fmt: skip
    consult_gain = pooled_estimate([
        mean_estimate([b - a for a, b in zip(weak(r).consultancy, strong(r).consultancy, strict=True)])
        for r in records
    ])  # fmt: skip
    difference = pooled_estimate([
        mean_estimate([
            (d1 - d0) - (c1 - c0)
            for d0, d1, c0, c1 in zip(_debate(weak(r)), _debate(strong(r)), weak(r).consultancy,
                                      strong(r).consultancy, strict=True)
        ])
        for r in records
    ])  # fmt: skip
    a, b = debate_gain.clearly_above(0), difference.clearly_above(0)
    reasons = [
        f"pre-check: two-label accuracy with random pixels {check}",
        f"(a) {'holds' if a else 'not shown'}: debate accuracy, best-of-{n_strong} minus best-of-{n_weak}, "
        f"{debate_gain}",
        f"(b) {'holds' if b else 'not shown'}: that gain minus consultancy's ({consult_gain}) {difference}",
    ]
    return graded(a and b, a or b, reasons, figures)


@experiment(
    "debate-self-play",
    claim=CLAIM,
    config=DebateSelfPlayConfig,
    decide=decide,
    paper_figures={"debate_accuracy_llm_judge": 0.76, "debate_accuracy_human_judge": 0.88},
    presets={"cpu": {}, "gpu": dict(masks_per_image=40, strengths=(1, 2, 4, 8, 16, 32, 64))},
)
def debate_self_play(cfg: DebateSelfPlayConfig, ctx: RunContext) -> Measurement:
    """Debate and consultancy with best-of-n agents of growing strength against one sparse-pixel judge."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from ..oversight.pixel_debate import (
        SparsePixelJudge,
        best_of_n_consultancy,
        best_of_n_debate,
        random_masks,
    )

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=cfg.test_fraction, random_state=ctx.seed,
        stratify=digits.target,
    )  # fmt: skip
    rng = np.random.default_rng(ctx.seed)
    lies = (y_test + rng.integers(1, 10, size=len(y_test))) % 10
    argues_truth = rng.random(len(y_test)) < 0.5
    judge = SparsePixelJudge(cfg.pixels, cfg.hidden, cfg.masks_per_image, ctx.seed).fit(x_train, y_train)
    log_p = judge.log_proba(x_test, random_masks(x_test, cfg.pixels, rng))
    rows = np.arange(len(y_test))
    classes = list(judge.model.classes_)
    t_col, l_col = [np.array([classes.index(v) for v in labels]) for labels in (y_test, lies)]
    ints = lambda a: [int(v) for v in a]  # noqa: E731
    outcomes = []
    for n in ctx.progress(cfg.strengths, "agent strengths (best-of-n)", total=len(cfg.strengths)):
        first = best_of_n_debate(judge, x_test, y_test, lies, n, rng, honest_first=True)
        second = best_of_n_debate(judge, x_test, y_test, lies, n, rng, honest_first=False)
        consult = best_of_n_consultancy(judge, x_test, y_test, lies, argues_truth, n, rng)
        outcomes.append(StrengthOutcomes(n=n, debate_honest_first=ints(first.honest_wins),
                                         debate_honest_second=ints(second.honest_wins),
                                         consultancy=ints(consult.honest_wins)))  # fmt: skip
        o = outcomes[-1]
        ctx.log(n, debate_accuracy=_mean(_debate(o)), consultancy_accuracy=_mean(o.consultancy))
    record = DebateSelfPlayRecord(
        random_two_labels=ints(log_p[rows, t_col] > log_p[rows, l_col]), argues_truth=ints(argues_truth),
        outcomes=outcomes,
    )  # fmt: skip

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ns = [o.n for o in outcomes]
    ax.plot(ns, [_mean(_debate(o)) for o in outcomes], "o-", label="debate (both orders)")
    ax.plot(ns, [_mean(o.consultancy) for o in outcomes], "s-", label="consultancy")
    ax.plot(
        ns,
        [_persuaded(o, record.argues_truth) for o in outcomes],
        "^--",
        label="a lying consultant persuades",
    )
    ax.axhline(_mean(record.random_two_labels), color="grey", ls=":", label="random pixels")
    ax.axhline(0.76, color="black", ls="--", lw=0.8, label="Khan et al.: LLM judge in debate, 76%")
    ax.set(xscale="log", xticks=ns, xticklabels=[str(n) for n in ns], ylim=(0, 1),
           xlabel="agent strength: best-of-n pixels per move", ylabel="judge accuracy / persuasion rate")  # fmt: skip
    ax.legend(fontsize=7, loc="lower right")
    figure = ctx.figure(
        fig, "accuracy_by_strength", "Judge accuracy as the agents optimise harder for persuasion"
    )
    table = Table(
        ["best-of-n", "debate, honest first", "debate, honest second", "consultancy",
         "lying consultant persuades"],
        [[o.n, round(_mean(o.debate_honest_first), 3), round(_mean(o.debate_honest_second), 3),
          round(_mean(o.consultancy), 3), round(_persuaded(o, record.argues_truth), 3)] for o in outcomes],
    )  # fmt: skip
    text = Text(
        f"{len(x_train)} training and {len(y_test)} test digits; one judge (an MLP trained on {cfg.masks_per_image} "
        f"random masks of {cfg.pixels} nonzero pixels per image) decides between the true label and a random lie. "
        "Debate: an honest agent and a liar take turns revealing pixels. Consultancy: one agent reveals every pixel "
        "for its assigned label, the truth on a random half of the images. Every agent is best-of-n: at each move it "
        "draws n candidate pixels and reveals the one that most raises the judge's log-odds of its label over the "
        "other. A toy judge and toy agents, standing in for Khan et al.'s LLMs."
    )
    return Measurement(record, [Section("Plots", [figure]), Section("Results", [text, table])])


EXPERIMENT = debate_self_play
