"""weak-to-strong: students that already know something about digits, trained on weak supervisors' labels,
with and without the auxiliary confidence loss; students trained from scratch are the control."""

from collections.abc import Sequence

from ..config import Count, LearningRate, OpenProbability, Probability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import bootstrap_interval, mean_estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

MIN_PGR = 0.2


class WeakToStrongConfig(ExperimentConfig):
    weak_views: tuple[Count, ...] = (2, 4)
    """The weak supervisor is a logistic regression that sees the image pooled to v×v cells (2×2 and 4×4)."""
    hidden: Count = 256
    max_epochs: Count = 30
    patience_epochs: Count = 3
    """Students stop when their loss on held-out weakly labelled examples stops falling (no ground truth)."""
    lr: LearningRate = 1e-3
    batch_size: Count = 64
    aux_alpha: Probability = 0.5
    warmup: OpenProbability = 0.1
    pretrain_fraction: OpenProbability = 0.4
    """Share of the images (their 10-class labels) used only to pretrain the strong student's trunk; the rest
    is split evenly between the weak supervisor's training data, the student's data and the test set."""
    bootstrap_resamples: Count = 2000


CLAIM = Claim(
    paper="Burns et al. 2023, Weak-to-Strong Generalization",
    finding="strong pretrained students trained on weak labels recover much of the gap to their ceiling (NLP "
    "tasks often PGR > 50%); the auxiliary confidence loss lifts PGR further (≈25% → ≈80% at the largest gaps)",
    expectation="students whose trunk was pretrained on digit identity (a task and data the weak supervisors "
    "never use), fine-tuned on the supervisors' hard labels over 5 binary digit tasks × 2 supervisors: "
    "reproduced if the median PGR's bootstrap 95% interval lies above 20% and the confidence loss raises PGR "
    "(paired over task × supervisor, by more than two standard errors); partial if one of the two. Students "
    "trained from scratch are the control, expected near 0 (they can represent the supervisor exactly)",
)

DIGIT_TASKS = {
    "even": (0, 2, 4, 6, 8),
    "at least 5": (5, 6, 7, 8, 9),
    "has a loop (0, 6, 8, 9)": (0, 6, 8, 9),
    "prime (2, 3, 5, 7)": (2, 3, 5, 7),
    "straight strokes (1, 4, 7)": (1, 4, 7),
}


class Pairing(Record):
    """One task × weak supervisor: test accuracies."""

    task: str
    weak_view: int
    weak: float
    ceiling: float
    """The pretrained student on ground-truth labels."""
    w2s: float
    w2s_aux: float
    scratch_ceiling: float
    scratch_w2s: float

    @property
    def pgr(self) -> float:
        return _pgr(self.weak, self.w2s, self.ceiling)

    @property
    def pgr_aux(self) -> float:
        return _pgr(self.weak, self.w2s_aux, self.ceiling)

    @property
    def pgr_scratch(self) -> float:
        return _pgr(self.weak, self.scratch_w2s, self.scratch_ceiling)


def _pgr(weak: float, w2s: float, ceiling: float) -> float:
    from ..oversight.weak_to_strong import performance_gap_recovered

    return performance_gap_recovered(weak, w2s, ceiling)


class WeakToStrongRecord(Record):
    pairings: list[Pairing]
    bootstrap_resamples: int


def decide(records: Sequence[WeakToStrongRecord]) -> Decision:
    import numpy as np

    pairings = [p for r in records for p in r.pairings if not np.isnan(p.pgr)]
    median, low, high = bootstrap_interval(
        [p.pgr for p in pairings], np.median, resamples=records[0].bootstrap_resamples
    )
    aux = pooled_estimate(
        [mean_estimate([p.pgr_aux - p.pgr for p in r.pairings if not np.isnan(p.pgr)]) for r in records]
    )
    scratch = [p.pgr_scratch for r in records for p in r.pairings if not np.isnan(p.pgr_scratch)]
    figures = {
        "median_pgr": round(median, 3),
        "median_pgr_confidence_loss": round(float(np.median([p.pgr_aux for p in pairings])), 3),
        "median_pgr_from_scratch (control)": round(float(np.median(scratch)), 3) if scratch else None,
        "median_weak_accuracy": round(float(np.median([p.weak for p in pairings])), 3),
        "median_ceiling_accuracy": round(float(np.median([p.ceiling for p in pairings])), 3),
    }
    reasons = [
        f"median PGR {median:.0%} (95% bootstrap interval {low:.0%} to {high:.0%}) over {len(pairings)} task × "
        f"supervisor pairings",
        f"the confidence loss changes PGR by {aux}",
        f"control, students from scratch: median PGR {figures['median_pgr_from_scratch (control)']}",
    ]
    return graded(
        low > MIN_PGR and aux.clearly_above(0), low > MIN_PGR or aux.clearly_above(0), reasons, figures
    )


@experiment(
    "weak-to-strong",
    claim=CLAIM,
    config=WeakToStrongConfig,
    decide=decide,
    paper_figures={
        "median_pgr": "often > 0.5 (NLP tasks)",
        "median_pgr_confidence_loss": "≈0.8 at the largest gaps (≈0.25 without)",
    },
    presets={"cpu": {}, "gpu": {}},
)
def weak_to_strong(cfg: WeakToStrongConfig, ctx: RunContext) -> Measurement:
    """PGR of pretrained MLP students on weak logistic-regression labels, plain and with the confidence loss."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from ..oversight.weak_to_strong import StudentConfig, accuracy, pretrain_trunk, train_student

    plt = pyplot()
    digits = load_digits()
    x, digit = digits.data / 16.0, digits.target
    idx = np.arange(len(digit))
    pretrain_idx, rest = train_test_split(
        idx, train_size=cfg.pretrain_fraction, random_state=ctx.seed, stratify=digit
    )
    weak_idx, rest = train_test_split(rest, test_size=2 / 3, random_state=ctx.seed, stratify=digit[rest])
    student_idx, test_idx = train_test_split(rest, test_size=0.5, random_state=ctx.seed, stratify=digit[rest])
    tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    student = StudentConfig(
        hidden=cfg.hidden, max_epochs=cfg.max_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
        patience_epochs=cfg.patience_epochs,
    )  # fmt: skip
    aux = student.model_copy(update={"aux_alpha": cfg.aux_alpha, "warmup": cfg.warmup})
    trunk = pretrain_trunk(tensor(x[pretrain_idx]), torch.tensor(digit[pretrain_idx]), student, seed=ctx.seed)
    images = digits.images / 16.0
    views = {
        v: images.reshape(-1, v, 8 // v, v, 8 // v).mean(axis=(2, 4)).reshape(len(images), -1)
        for v in cfg.weak_views
    }
    x_student, x_test = tensor(x[student_idx]), tensor(x[test_idx])
    pairings = []
    for name, positives in ctx.progress(DIGIT_TASKS.items(), "tasks", total=len(DIGIT_TASKS)):
        y = np.isin(digit, positives).astype(int)
        y_student, y_test = torch.tensor(y[student_idx]), torch.tensor(y[test_idx])
        ceiling = accuracy(
            train_student(x_student, y_student.float(), student, ctx.seed, trunk=trunk), x_test, y_test
        )
        scratch_ceiling = accuracy(
            train_student(x_student, y_student.float(), student, ctx.seed), x_test, y_test
        )
        for view, features in views.items():
            supervisor = LogisticRegression(max_iter=1000).fit(features[weak_idx], y[weak_idx])
            weak_labels = tensor(supervisor.predict(features[student_idx]))  # hard labels, as Burns et al.
            pairings.append(
                Pairing(
                    task=name, weak_view=view, weak=supervisor.score(features[test_idx], y[test_idx]), ceiling=ceiling,
                    w2s=accuracy(train_student(x_student, weak_labels, student, ctx.seed, trunk=trunk), x_test, y_test),
                    w2s_aux=accuracy(train_student(x_student, weak_labels, aux, ctx.seed, trunk=trunk), x_test, y_test),
                    scratch_ceiling=scratch_ceiling,
                    scratch_w2s=accuracy(train_student(x_student, weak_labels, student, ctx.seed), x_test, y_test),
                )
            )  # fmt: skip
            p = pairings[-1]
            ctx.log(len(pairings), weak=p.weak, w2s=p.w2s, w2s_aux=p.w2s_aux, ceiling=p.ceiling, pgr=p.pgr)
    record = WeakToStrongRecord(pairings=pairings, bootstrap_resamples=cfg.bootstrap_resamples)

    fig, ax = plt.subplots(figsize=(10, 4))
    xs = np.arange(len(pairings))
    for offset, (label, key) in enumerate(
        [
            ("pretrained student", "pgr"),
            (f"+ confidence loss (α={cfg.aux_alpha})", "pgr_aux"),
            ("from scratch (control)", "pgr_scratch"),
        ]
    ):
        ax.bar(xs + (offset - 1) * 0.27, [getattr(p, key) for p in pairings], 0.27, label=label)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xticks=xs, ylabel="PGR", title="Performance gap recovered")
    ax.set_xticklabels([f"{p.task}\n{p.weak_view}×{p.weak_view}" for p in pairings], fontsize=6)
    ax.legend(fontsize=8)
    figure = ctx.figure(fig, "weak_to_strong", "PGR per task and weak supervisor.")
    rows = [
        [p.task, f"{p.weak_view}×{p.weak_view}", *(round(v, 3) for v in (p.weak, p.w2s, p.w2s_aux, p.ceiling, p.pgr,
         p.pgr_aux, p.scratch_w2s, p.pgr_scratch))]
        for p in pairings
    ]  # fmt: skip
    sections = [
        Section("Plots", [figure]),
        Section(
            "Results",
            [
                Text(
                    f"scikit-learn's digits: {len(pretrain_idx)} images (with their 10-class labels) pretrain the strong "
                    f"student's trunk; of the rest, {len(weak_idx)} train the weak supervisors (logistic regression on "
                    f"pooled pixels, binary labels), {len(student_idx)} are the student's data, labelled by a supervisor "
                    f"(hard labels), and {len(test_idx)} are the test set. The ceiling is the same student trained on the "
                    "ground truth. Students stop on their loss on held-out weakly labelled examples."
                ),
                Table(
                    ["task", "weak sees", "weak", "weak→strong", "+ conf. loss", "ceiling", "PGR", "PGR + conf.",
                     "scratch weak→strong", "scratch PGR"],
                    rows,
                ),
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = weak_to_strong
