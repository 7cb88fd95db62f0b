"""debate-pixels: a judge that sees k pixels of a digit, alone vs after two agents debate which pixels to
reveal (Irving et al. 2018), on the 8×8 digits that scikit-learn ships."""

from collections.abc import Sequence

from ..config import Count, OpenProbability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, mean_estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded


class DebatePixelsConfig(ExperimentConfig):
    pixels: tuple[Count, ...] = (4, 6)
    """Revealed pixels per image (Irving et al. report 4 and 6)."""
    masks_per_image: Count = 20
    """Random masks per training image for the judge."""
    hidden: Count = 256
    test_fraction: OpenProbability = 0.2
    liar_lookahead: bool = True
    """Also let the liar search two plies (its move, the honest reply) when choosing pixels."""
    max_test_images: Count | None = None
    """Debate only the first N test images (None: all)."""


CLAIM = Claim(
    paper="Irving et al. 2018, AI Safety via Debate",
    finding="an MNIST judge that sees 6 random pixels is right 59.4% of the time; when an honest and a lying "
    "agent choose the 6 pixels, the honest one wins 88.9% (4 pixels: 48.2% → 85.2%)",
    expectation="for every k, like for like, each as a paired difference over test images clearly above zero "
    "(two standard errors): (1) the honest agent's wins against the liar's best lie and strategy (every wrong "
    "label, greedy and two-ply liars; both orders averaged) beat the judge's 10-class accuracy with k random "
    "pixels (the paper's comparison); (2) its wins against a random lie beat the judge's accuracy between the "
    "same two labels with k random pixels. Reproduced if both, partial if (1) only",
)


class PixelOutcomes(Record):
    """Per test image, 0/1: what the judge or the debate got right with k pixels."""

    k: int
    random_10way: list[int]
    random_2way: list[int]
    """The judge prefers the true label over the image's random lie, with k random pixels."""
    random_lie_first: list[int]
    random_lie_second: list[int]
    best_lie_first: list[int]
    """The honest agent, moving first, beats every lie and every liar strategy."""
    best_lie_second: list[int]
    greedy_best_lie_first: list[int]
    """The same against the greedy liar only."""
    greedy_best_lie_second: list[int]
    full_accuracy: float
    """The judge's 10-class accuracy with every nonzero pixel revealed."""


class DebatePixelsRecord(Record):
    outcomes: list[PixelOutcomes]


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values)


def _paired(debate_a: Sequence[int], debate_b: Sequence[int], baseline: Sequence[int]) -> Estimate:
    """Mean over images of (mean of the two debate orders) − baseline."""
    return mean_estimate([(a + b) / 2 - c for a, b, c in zip(debate_a, debate_b, baseline, strict=True)])


def _over_seeds(outcomes: Sequence[PixelOutcomes], value) -> float:
    return round(sum(value(o) for o in outcomes) / len(outcomes), 3)


def decide(records: Sequence[DebatePixelsRecord]) -> Decision:
    ks = [o.k for o in records[0].outcomes]
    figures, reasons, paper_ok, strict_ok = {}, [], True, True
    for i, k in enumerate(ks):
        per_seed = [r.outcomes[i] for r in records]
        best = pooled_estimate(
            [_paired(o.best_lie_first, o.best_lie_second, o.random_10way) for o in per_seed]
        )
        rand = pooled_estimate(
            [_paired(o.random_lie_first, o.random_lie_second, o.random_2way) for o in per_seed]
        )
        paper_ok &= best.clearly_above(0)
        strict_ok &= rand.clearly_above(0)
        figures |= {
            f"random_{k}px": _over_seeds(per_seed, lambda o: _mean(o.random_10way)),
            f"debate_{k}px": _over_seeds(per_seed, lambda o: (_mean(o.best_lie_first) + _mean(o.best_lie_second)) / 2),
            f"random_{k}px_two_labels": _over_seeds(per_seed, lambda o: _mean(o.random_2way)),
            f"debate_{k}px_random_lie": _over_seeds(per_seed, lambda o: (_mean(o.random_lie_first) + _mean(o.random_lie_second)) / 2),
        }  # fmt: skip
        reasons.append(
            f"{k} pixels: honest wins against the best lie minus 10-class accuracy with random pixels {best}; "
            f"against a random lie minus two-label accuracy {rand}"
        )
    return graded(paper_ok and strict_ok, paper_ok, reasons, figures)


@experiment(
    "debate-pixels",
    claim=CLAIM,
    config=DebatePixelsConfig,
    decide=decide,
    paper_figures={"random_6px": 0.594, "debate_6px": 0.889, "random_4px": 0.482, "debate_4px": 0.852},
    presets={"cpu": {}, "gpu": dict(masks_per_image=40)},
)
def debate_pixels(cfg: DebatePixelsConfig, ctx: RunContext) -> Measurement:
    """Train sparse-pixel judges and compare random pixels with pixels chosen by a debate."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from ..oversight.pixel_debate import SparsePixelJudge, greedy_debate, random_masks

    plt = pyplot()
    digits = load_digits()
    images = digits.data / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=cfg.test_fraction, random_state=ctx.seed, stratify=digits.target
    )
    x_test, y_test = x_test[: cfg.max_test_images], y_test[: cfg.max_test_images]
    rng = np.random.default_rng(ctx.seed)
    lies = (y_test + rng.integers(1, 10, size=len(y_test))) % 10  # a uniformly drawn wrong label per image
    rows = np.arange(len(y_test))
    outcomes, examples = [], {}
    ints = lambda a: [int(v) for v in a]  # noqa: E731
    for k in ctx.progress(cfg.pixels, "pixel budgets", total=len(cfg.pixels)):
        judge = SparsePixelJudge(k, cfg.hidden, cfg.masks_per_image, ctx.seed).fit(x_train, y_train)
        log_p = judge.log_proba(x_test, random_masks(x_test, k, rng))
        first = greedy_debate(judge, x_test, y_test, lies, honest_first=True)
        second = greedy_debate(judge, x_test, y_test, lies, honest_first=False)
        beats = {}  # (honest first, liar lookahead) -> honest beats every lie
        for honest_first in (True, False):
            for lookahead in (False, True) if cfg.liar_lookahead else (False,):
                wins = np.ones(len(y_test), dtype=bool)
                for offset in range(1, 10):
                    wrong = (y_test + offset) % 10
                    debate = greedy_debate(
                        judge, x_test, y_test, wrong, honest_first=honest_first, liar_lookahead=lookahead
                    )
                    wins &= debate.honest_wins
                beats[honest_first, lookahead] = wins
        strongest = {
            h: np.logical_and.reduce([w for (f, _), w in beats.items() if f == h]) for h in (True, False)
        }
        outcomes.append(
            PixelOutcomes(
                k=k,
                random_10way=ints(log_p.argmax(axis=1) == y_test),
                random_2way=ints(log_p[rows, y_test] > log_p[rows, lies]),
                random_lie_first=ints(first.honest_wins), random_lie_second=ints(second.honest_wins),
                best_lie_first=ints(strongest[True]), best_lie_second=ints(strongest[False]),
                greedy_best_lie_first=ints(beats[True, False]), greedy_best_lie_second=ints(beats[False, False]),
                full_accuracy=float((judge.log_proba(x_test, x_test != 0).argmax(axis=1) == y_test).mean()),
            )
        )  # fmt: skip
        examples[k] = first
        o = outcomes[-1]
        ctx.log(
            k, random=_mean(o.random_10way), debate=(_mean(o.best_lie_first) + _mean(o.best_lie_second)) / 2
        )
    record = DebatePixelsRecord(outcomes=outcomes)

    columns = [
        ("random pixels, 10 classes", lambda o: _mean(o.random_10way)),
        (
            "debate vs best lie (both orders)",
            lambda o: (_mean(o.best_lie_first) + _mean(o.best_lie_second)) / 2,
        ),
        ("random pixels, 2 labels", lambda o: _mean(o.random_2way)),
        (
            "debate vs random lie (both orders)",
            lambda o: (_mean(o.random_lie_first) + _mean(o.random_lie_second)) / 2,
        ),
    ]
    fig, (bars_ax, *image_axes) = plt.subplots(1, 1 + min(4, len(y_test)), figsize=(15, 3.6))
    width = 0.2
    xs = np.arange(len(outcomes))
    for i, (label, value) in enumerate(columns):
        bars_ax.bar(xs + (i - 1.5) * width, [value(o) for o in outcomes], width, label=label)
    bars_ax.set(
        xticks=xs, xticklabels=[f"{o.k} px" for o in outcomes], ylim=(0, 1), ylabel="accuracy / honest wins"
    )
    bars_ax.legend(fontsize=6, loc="lower right")
    k = cfg.pixels[-1]
    for ax, i in zip(image_axes, range(len(image_axes)), strict=True):
        ax.imshow(x_test[i].reshape(8, 8), cmap="gray_r")
        ys, xs_ = np.divmod(np.flatnonzero(examples[k].masks[i]), 8)
        ax.scatter(xs_, ys, marker="s", s=80, facecolors="none", edgecolors="tab:red")
        ax.set(
            xticks=[],
            yticks=[],
            title=f"{y_test[i]} vs lie {lies[i]}: {'honest' if examples[k].honest_wins[i] else 'liar'} wins",
        )
        ax.title.set_fontsize(8)
    figure = ctx.figure(
        fig,
        "debate_pixels",
        f"Left: like-for-like pairs. Right: pixels revealed in {k}-pixel debates (random lie).",
    )

    table = Table(
        ["pixels", *[label for label, _ in columns], "honest first vs best lie", "honest second vs best lie",
         "vs best lie, greedy liar only", "judge on all nonzero pixels"],
        [
            [o.k, *[round(value(o), 3) for _, value in columns], round(_mean(o.best_lie_first), 3),
             round(_mean(o.best_lie_second), 3),
             round((_mean(o.greedy_best_lie_first) + _mean(o.greedy_best_lie_second)) / 2, 3), round(o.full_accuracy, 3)]
            for o in outcomes
        ],
    )  # fmt: skip
    sections = [
        Section("Plots", [figure]),
        Section(
            "Results",
            [
                Text(
                    f"{len(x_train)} training and {len(y_test)} test digits (8×8, 0-16 ink levels). A judge per k is an "
                    f"MLP trained on {cfg.masks_per_image} random masks of k nonzero pixels per image. The paper's "
                    "comparison sets the honest agent's wins against the liar's best choice of wrong label beside the "
                    "judge's 10-class accuracy; the stricter one sets wins against one random lie beside the judge's "
                    "choice between the same two labels. The best lie takes, per image, the worst case for the honest "
                    "agent over all nine wrong labels and over the greedy and two-ply liars. Digits have about 30 "
                    "nonzero pixels to MNIST's 150, so k pixels reveal more here."
                ),
                table,
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = debate_pixels
