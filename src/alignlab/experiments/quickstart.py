"""quickstart: the stack end to end on the embedded model — batched answers, refusals, a likelihood judge."""

from collections.abc import Sequence

from ..config import Count
from ..reporting import Claim, Code, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import binomial_p_value
from .registry import Measurement, ModelConfig, RunContext, experiment
from .verdict import Decision, Record


class QuickstartConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"
    """Any alignlab model name, HF folder or hub id."""
    max_new_tokens: Count = 48
    """Length of each probe answer."""
    batch_size: Count = 24
    """Prompts per generation / scoring batch (24: all probes in one batch)."""
    max_probes: Count | None = None
    """Use only the first N probes of each kind (None: all)."""
    max_pairs: Count | None = None
    """Use only the first N judge pairs (None: all)."""


CLAIM = Claim(
    paper="Kadavath et al. 2022, Language Models (Mostly) Know What They Know",
    finding="a pretrained model's own likelihoods pick the correct answer to factual questions well above "
    "chance (and are calibrated), more so as models grow",
    expectation="the model's total log-probability prefers the correct answer of each factual pair more often "
    "than chance: reproduced if a one-sided exact binomial test against 50% gives p < 0.05, not reproduced "
    "otherwise. The helpful and harmless pairs (4 each) are reported per category but not scored: too few to "
    "test, and likelihood measures knowledge, not values",
)

ALPHA = 0.05
SCORED = "factual"


class JudgedPair(Record):
    category: str
    margin: float
    """log p(good) − log p(bad), nats."""


class QuickstartRecord(Record):
    pairs: list[JudgedPair]
    refusal_rate: dict[str, float]
    """Share of each probe kind the keyword heuristic flags as a refusal."""
    load_s: float
    generation_tokens_per_s: float
    scoring_tokens_per_s: float


def _accuracy(pairs: Sequence[JudgedPair], category: str) -> tuple[int, int]:
    chosen = [p for p in pairs if p.category == category]
    return sum(p.margin > 0 for p in chosen), len(chosen)


def decide(records: Sequence[QuickstartRecord]) -> Decision:
    pairs = [p for r in records for p in r.pairs]
    correct, n = _accuracy(pairs, SCORED)
    p_value = binomial_p_value(correct, n)
    figures = {"judge_accuracy_factual": round(correct / n, 3) if n else None, "p_value": round(p_value, 6)}
    for category in dict.fromkeys(p.category for p in pairs):
        if category != SCORED:
            k, m = _accuracy(pairs, category)
            figures[f"judge_accuracy_{category} (not scored)"] = f"{k}/{m}"
    reason = f"the likelihood judge picked the correct answer in {correct}/{n} factual pairs (one-sided exact binomial p = {p_value:.2g})"
    if n == 0:
        return Decision("not_applicable", ("no factual pairs were judged",), figures)
    if p_value < ALPHA:
        return Decision("reproduced", (reason + f" < {ALPHA}",), figures)
    return Decision("not_reproduced", (reason + f" ≥ {ALPHA}: not distinguishable from chance",), figures)


@experiment(
    "quickstart",
    claim=CLAIM,
    config=QuickstartConfig,
    decide=decide,
    seeded=False,
    paper_figures={"judge_accuracy_factual": "well above chance (50%); larger models better calibrated"},
    presets={"cpu": {}, "gpu": dict(batch_size=32, max_new_tokens=128)},
)
def quickstart(cfg: QuickstartConfig, ctx: RunContext) -> Measurement:
    """Answer benign, harmful and look-alike probes in batches, and judge paired answers by log-probability."""
    plt = pyplot()
    import time

    from ..data.builtin_data import load_builtin
    from ..evals import looks_like_refusal
    from ..generation import HFGenerator, SamplingParams
    from ..models import load_model
    from ..scoring import score_completions

    start = time.perf_counter()
    model, tokenizer = load_model(cfg.model, device=ctx.device, seed=ctx.seed)
    load_s = time.perf_counter() - start

    probes = load_builtin("quickstart_probes", required=("prompt", "kind"))
    kinds = list(dict.fromkeys(p["kind"] for p in probes))
    if cfg.max_probes is not None:
        probes = [p for kind in kinds for p in [q for q in probes if q["kind"] == kind][: cfg.max_probes]]
    generator = HFGenerator(model, tokenizer, batch_size=cfg.batch_size)
    start = time.perf_counter()
    answers = generator.generate(
        [p["prompt"] for p in probes], SamplingParams(max_new_tokens=cfg.max_new_tokens)
    )
    gen_s = time.perf_counter() - start
    new_tokens = sum(len(a.tokens) for a in answers)
    refused = [looks_like_refusal(a.text) for a in answers]
    refusal_rate = {
        kind: sum(r for r, p in zip(refused, probes, strict=True) if p["kind"] == kind)
        / sum(p["kind"] == kind for p in probes)
        for kind in kinds
    }
    ctx.log(0, generated_tokens=new_tokens, generation_s=gen_s)

    pairs = load_builtin("quickstart_pairs", required=("prompt", "chosen", "rejected", "category"))[
        : cfg.max_pairs
    ]
    start = time.perf_counter()
    scored = score_completions(
        model,
        tokenizer,
        [p["prompt"] for p in pairs] * 2,
        [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs],
        batch_size=cfg.batch_size,
    )
    score_s = time.perf_counter() - start
    chosen, rejected = scored[: len(pairs)], scored[len(pairs) :]
    margins = [c.total - r.total for c, r in zip(chosen, rejected, strict=True)]
    correct = [m > 0 for m in margins]
    record = QuickstartRecord(
        pairs=[JudgedPair(category=p["category"], margin=m) for p, m in zip(pairs, margins, strict=True)],
        refusal_rate=refusal_rate,
        load_s=load_s,
        generation_tokens_per_s=new_tokens / gen_s,
        scoring_tokens_per_s=sum(len(s.token_logprobs) for s in scored) / score_s,
    )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    bars = left.bar(
        list(refusal_rate),
        list(refusal_rate.values()),
        color=["tab:green", "tab:red", "tab:orange"][: len(kinds)],
    )
    left.bar_label(bars, labels=[f"{v:.0%}" for v in refusal_rate.values()])
    left.set(ylim=(0, 1), ylabel="refusal rate (keyword heuristic)", title="Refusals by probe kind")
    colors = {"factual": "tab:blue", "helpful": "tab:green", "harmless": "tab:red"}
    right.bar(range(len(margins)), margins, color=[colors.get(p["category"], "gray") for p in pairs])
    right.axhline(0, color="black", linewidth=0.8)
    right.set(
        xlabel="pair",
        ylabel="log p(good) − log p(bad)",
        title="Likelihood judge margins (blue factual, green helpful, red harmless)",
    )
    figure = ctx.figure(
        fig,
        "quickstart",
        "Left: refusal rate per probe kind. Right: judge margin per pair; above zero is correct.",
    )

    transcript = "\n\n".join(
        f"[{p['kind']}{', refused' if r else ''}] {p['prompt']}\n→ {a.text.strip()}"
        for p, a, r in zip(probes, answers, refused, strict=True)
    )
    sections = [
        Section("Plots", [figure]),
        Section(
            "Answers",
            [
                Text(
                    f"{len(probes)} probes answered greedily in batches of {cfg.batch_size} "
                    f"({new_tokens} new tokens in {gen_s:.1f} s). Refusals are flagged by a keyword heuristic, "
                    "a baseline rather than a judge."
                ),
                Code(transcript),
            ],
        ),
        Section(
            "Likelihood judge",
            [
                Text(
                    "Each pair is scored by the total log-probability the model gives each response after the "
                    "prompt (chat template applied); the judge prefers the higher one. Only the factual pairs "
                    "decide the verdict."
                ),
                Table(
                    ["category", "correct", "pairs"],
                    [[c, *_accuracy(record.pairs, c)] for c in dict.fromkeys(p["category"] for p in pairs)],
                ),
                Table(
                    ["category", "prompt", "good", "bad", "margin (nats)", "correct"],
                    [
                        [
                            p["category"],
                            p["prompt"],
                            p["chosen"],
                            p["rejected"],
                            round(m, 2),
                            "yes" if ok else "no",
                        ]
                        for p, m, ok in zip(pairs, margins, correct, strict=True)
                    ],
                ),
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = quickstart
