"""debate-pixels: a judge that sees k pixels of a digit, alone vs after two agents debate which pixels to
reveal (Irving et al. 2018), on the 8×8 digits that scikit-learn ships."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class DebatePixelsConfig(ExperimentConfig):
    pixels: tuple[int, ...] = (4, 6)
    """Revealed pixels per image (Irving et al. report 4 and 6)."""
    masks_per_image: int = 20
    """Random masks per training image for the judge."""
    hidden: int = 256
    test_fraction: float = 0.2


CLAIM = Claim(
    paper="Irving et al. 2018, AI Safety via Debate",
    finding="an MNIST judge that sees 6 random pixels is right 59.4% of the time; when an honest and a lying "
    "agent choose the 6 pixels, the honest one wins 88.9% (4 pixels: 48.2% → 85.2%)",
    expectation="for every k the honest greedy agent wins more often than the judge alone is right with k "
    "random pixels, both over all ten classes (the paper's comparison) and over the same two labels the debate "
    "is about (stricter): reproduced if both hold for every k, partial if only the paper's comparison does",
)


@experiment(
    "debate-pixels",
    claim=CLAIM,
    config=DebatePixelsConfig,
    presets={"cpu": {}, "gpu": dict(masks_per_image=40)},
)
def debate_pixels(cfg: DebatePixelsConfig, ctx: RunContext) -> Outcome:
    """Train sparse-pixel judges and compare random pixels with pixels chosen by a greedy debate."""
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
    rng = np.random.default_rng(ctx.seed)
    lies = (y_test + rng.integers(1, 10, size=len(y_test))) % 10  # a uniformly drawn wrong label per image
    rows = np.arange(len(y_test))
    table, measured, examples = [], {}, {}
    for k in cfg.pixels:
        judge = SparsePixelJudge(k, cfg.hidden, cfg.masks_per_image, ctx.seed).fit(x_train, y_train)
        log_p = judge.log_proba(x_test, random_masks(x_test, k, rng))
        random_10way = float((log_p.argmax(axis=1) == y_test).mean())
        random_2way = float((log_p[rows, y_test] > log_p[rows, lies]).mean())
        first = greedy_debate(judge, x_test, y_test, lies, honest_first=True)
        second = greedy_debate(judge, x_test, y_test, lies, honest_first=False)
        debate = float((first.honest_wins.mean() + second.honest_wins.mean()) / 2)
        # the liar picks, per image, whichever wrong label beats the honest agent (if any)
        beats_every_lie = np.ones(len(y_test), dtype=bool)
        for offset in range(1, 10):
            beats_every_lie &= greedy_debate(judge, x_test, y_test, (y_test + offset) % 10).honest_wins
        worst_case = float(beats_every_lie.mean())
        full = float((judge.log_proba(x_test, x_test != 0).argmax(axis=1) == y_test).mean())
        table.append(
            [
                k,
                random_10way,
                random_2way,
                first.honest_wins.mean(),
                second.honest_wins.mean(),
                debate,
                worst_case,
                full,
            ]
        )
        measured.update(
            {
                f"random_{k}px_accuracy": round(random_10way, 3),
                f"random_{k}px_two_label_accuracy": round(random_2way, 3),
                f"debate_{k}px_honest_win_rate": round(debate, 3),
                f"debate_{k}px_honest_wins_against_every_lie": round(worst_case, 3),
                f"judge_{k}px_on_all_nonzero_pixels": round(full, 3),
            }
        )
        examples[k] = first
        ctx.log(k, random=random_10way, random_two_label=random_2way, debate=debate)

    fig, (bars_ax, *image_axes) = plt.subplots(1, 1 + min(4, len(y_test)), figsize=(14, 3.4))
    width = 0.25
    xs = np.arange(len(cfg.pixels))
    for i, (label, column) in enumerate([("random, 10 classes", 1), ("random, 2 labels", 2), ("debate", 5)]):
        bars_ax.bar(xs + (i - 1) * width, [row[column] for row in table], width, label=label)
    bars_ax.set(
        xticks=xs, xticklabels=[f"{k} px" for k in cfg.pixels], ylim=(0, 1), ylabel="accuracy / honest wins"
    )
    bars_ax.legend(fontsize=7)
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
        fig, "debate_pixels", f"Left: accuracy by protocol. Right: pixels revealed in {k}-pixel debates."
    )

    paper_ok = all(row[5] > row[1] for row in table)
    strict_ok = all(row[5] > row[2] for row in table)
    verdict = "reproduced" if paper_ok and strict_ok else "partial" if paper_ok else "not_reproduced"
    summary = "; ".join(
        f"{row[0]} pixels: judge alone {row[1]:.1%} (two labels {row[2]:.1%}), debate {row[5]:.1%} honest wins "
        f"({row[6]:.1%} against the liar's best lie)"
        for row in table
    )
    sections = [
        Section("Plots", [figure]),
        Section(
            "Results",
            [
                Text(
                    f"{len(x_train)} training and {len(y_test)} test digits (8×8, 0-16 ink levels). A judge per k is an "
                    f"MLP trained on {cfg.masks_per_image} random masks of k nonzero pixels per image. The liar claims a "
                    "uniformly drawn wrong label; 'every lie' is the share of images on which the honest agent beats "
                    "all nine lies (honest agent first). Digits have about 30 nonzero pixels to MNIST's 150, so k "
                    "pixels reveal more here."
                ),
                Table(
                    [
                        "pixels",
                        "random (10 classes)",
                        "random (2 labels)",
                        "debate, honest first",
                        "debate, honest second",
                        "debate (mean)",
                        "honest beats every lie",
                        "judge on all nonzero pixels",
                    ],
                    [[row[0], *[round(float(v), 3) for v in row[1:]]] for row in table],
                ),
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={"random_6px": 0.594, "debate_6px": 0.889, "random_4px": 0.482, "debate_4px": 0.852},
        sections=sections,
    )


EXPERIMENT = debate_pixels
