"""calibration: is the model's confidence in its multiple-choice answers calibrated, and can it tell, by
P(True), which of its own answers are right (Kadavath et al. 2022)?"""

import math
from collections.abc import Sequence

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import auroc_estimate, bootstrap_interval
from ._eval_model import EvalModelConfig, local_generator
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable

ECE_BOUND = 0.10
"""'Well calibrated' here: the 95% bootstrap upper bound of the ECE (10 bins) under 0.10."""
BINS = 10
MIN_EACH = 5
"""P(True)'s AUROC needs at least this many right and this many wrong answers."""


class CalibrationConfig(EvalModelConfig):
    """The model under evaluation; nothing else to set."""


CLAIM = Claim(
    paper="Kadavath et al. 2022, Language Models (Mostly) Know What They Know",
    finding="large models are well calibrated on multiple-choice questions, and can estimate P(True), the "
    "probability that their own answer is right; both improve with model size",
    expectation=f"on the 60 capability questions answered by option probability (the option whose text is most "
    f"likely; confidence = its share of the options' probability): (a) calibration: the expected calibration "
    f"error ({BINS} bins) has a 95% bootstrap upper bound under {ECE_BOUND}; (b) self-evaluation: asked whether "
    f"its own answer is true, the model's P(True) ranks its right answers above its wrong ones (AUROC clearly "
    f"above 0.5; not applicable with fewer than {MIN_EACH} right or {MIN_EACH} wrong answers). Reproduced if "
    "both, partial if one",
)


class AnsweredQuestion(Record):
    id: str
    confidence: float
    """The chosen option's share of the options' probability."""
    correct: bool
    p_true: float
    """P(True) / (P(True) + P(False)) when asked whether the chosen option is the answer."""


class CalibrationRecord(Record):
    questions: list[AnsweredQuestion]


def ece_interval(questions: Sequence[AnsweredQuestion]) -> tuple[float, float, float]:
    from ..evals.metrics import expected_calibration_error

    rows = [[q.confidence, float(q.correct)] for q in questions]
    return bootstrap_interval(rows, lambda d: expected_calibration_error(d[:, 0], d[:, 1] > 0.5, BINS))


def decide(records: Sequence[CalibrationRecord]) -> Decision:
    (r,) = records
    qs = [q for q in r.questions if math.isfinite(q.confidence) and math.isfinite(q.p_true)]
    right = sum(q.correct for q in qs)
    if right < MIN_EACH or len(qs) - right < MIN_EACH:
        return not_applicable(
            f"{right} right and {len(qs) - right} wrong answers: fewer than {MIN_EACH} of one kind"
        )
    ece, low, high = ece_interval(qs)
    auroc = auroc_estimate([q.correct for q in qs], [q.p_true for q in qs])
    figures = {"accuracy": round(right / len(qs), 3), "mean_confidence": round(sum(q.confidence for q in qs) / len(qs), 3),
               "ece": round(ece, 3), "ece_95_upper": round(high, 3), "p_true_auroc": round(auroc.value, 3)}  # fmt: skip
    calibrated, discriminates = high < ECE_BOUND, auroc.clearly_above(0.5)
    reasons = (
        f"(a) {'holds' if calibrated else 'not shown'}: accuracy {right}/{len(qs)} at mean confidence "
        f"{figures['mean_confidence']:.3f}; ECE {ece:.3f} (95% bootstrap {low:.3f} to {high:.3f}) against {ECE_BOUND}",
        f"(b) {'holds' if discriminates else 'not shown'}: P(True) on its own answers, right vs wrong, AUROC {auroc}",
    )
    return graded(calibrated and discriminates, calibrated or discriminates, reasons, figures)


@experiment(
    "calibration",
    claim=CLAIM,
    config=CalibrationConfig,
    decide=decide,
    seeded=False,
    paper_figures={
        "finding": "larger models well calibrated on lettered multiple choice; P(True) separates their "
        "right and wrong answers, better with size"
    },  # fmt: skip
    presets={"cpu": {}, "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct")},
)
def calibration(cfg: CalibrationConfig, ctx: RunContext) -> Measurement:
    """Answer the capability questions by option probability, then ask P(True) of each chosen answer."""
    plt = pyplot()
    from ..evals import Choice, PTrue, Sample, Task, eval_task, get_task

    generator = local_generator(cfg, ctx)
    out = ctx.path / "evals"
    answered = eval_task(get_task("capability-mcq", scoring="option"), generator, model_name=cfg.model,
                         batch_size=cfg.batch_size, out=out)  # fmt: skip
    chosen = {}
    for s in answered.samples:
        logprobs = s["scores"]["choice"]["metadata"]["logprobs"]
        top = max(logprobs.values())
        weights = {letter: math.exp(lp - top) for letter, lp in logprobs.items()}
        letter = s["scores"]["choice"].get("answer")  # None on a tie
        chosen[s["id"]] = (s, letter, weights[letter] / sum(weights.values()) if letter else math.nan)
    proposals = [
        Sample(s["input"], "True" if s["scores"]["choice"]["value"] == "C" else "False", sid,
               metadata={"proposal": s["choices"][ord(letter) - ord("A")] if letter else ""})
        for sid, (s, letter, _) in chosen.items()
    ]  # fmt: skip
    judged = eval_task(Task("p-true", proposals, [PTrue()], [Choice()]), generator, model_name=cfg.model,
                       batch_size=cfg.batch_size, out=out)  # fmt: skip
    p_true = {s["id"]: s["metadata"]["p_true"] for s in judged.samples}
    record = CalibrationRecord(
        questions=[
            AnsweredQuestion(
                id=sid, confidence=conf, correct=s["scores"]["choice"]["value"] == "C", p_true=p_true[sid]
            )
            for sid, (s, _, conf) in chosen.items()
        ]
    )

    qs = record.questions
    edges = [b / BINS for b in range(BINS + 1)]
    table, xs, ys = [], [], []
    for b in range(BINS):
        inside = [
            q for q in qs if edges[b] <= q.confidence < edges[b + 1] or (b == BINS - 1 and q.confidence == 1)
        ]
        if inside:
            acc = sum(q.correct for q in inside) / len(inside)
            conf = sum(q.confidence for q in inside) / len(inside)
            table.append([f"{edges[b]:.1f}-{edges[b + 1]:.1f}", len(inside), round(conf, 3), round(acc, 3)])
            xs.append(conf)
            ys.append(acc)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot([0, 1], [0, 1], color="gray", linestyle=":")
    left.plot(xs, ys, "o-")
    left.set(
        xlabel="confidence (chosen option's probability share)",
        ylabel="accuracy",
        title="Reliability diagram",
    )
    for correct, label in ((True, "right answers"), (False, "wrong answers")):
        right.hist(
            [q.p_true for q in qs if q.correct == correct], bins=10, range=(0, 1), alpha=0.6, label=label
        )
    right.set(xlabel="P(True) of its own answer", ylabel="questions", title="Self-evaluation")
    right.legend()
    figure = ctx.figure(fig, "calibration", "Left: accuracy against confidence per bin (the diagonal is perfect "
                        "calibration). Right: P(True) for the model's right and wrong answers.")  # fmt: skip
    sections = [
        Section("Plots", [figure]),
        Section(
            "Reliability",
            [
                Text(
                    f"{len(qs)} questions; ECE over {BINS} equal-width bins. Inspect logs are under `evals/`."
                ),
                Table(["confidence bin", "questions", "mean confidence", "accuracy"], table),
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = calibration
