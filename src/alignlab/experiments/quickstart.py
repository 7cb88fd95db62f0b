"""quickstart: the stack end to end on the embedded model — batched answers, refusals, a likelihood judge."""

import math

from pydantic import field_validator

from ..models import check_model_name
from ..reporting import Claim, Code, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class QuickstartConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"
    """Any alignlab model name, HF folder or hub id."""
    max_new_tokens: int = 48
    """Length of each probe answer."""
    batch_size: int = 24
    """Prompts per generation / scoring batch (24: all probes in one batch)."""
    max_probes: int | None = None
    """Use only the first N probes of each kind (None: all)."""
    max_pairs: int | None = None
    """Use only the first N judge pairs (None: all)."""

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return check_model_name(name)


CLAIM = Claim(
    paper="Kadavath et al. 2022, Language Models (Mostly) Know What They Know",
    finding="a model's own likelihoods separate correct from incorrect answers well above chance, and better "
    "as models grow",
    expectation="the log-probability judge prefers the known-good response of each pair more often than chance; "
    "reproduced if a one-sided binomial test against 50% gives p < 0.05",
)


def binomial_p_value(successes: int, trials: int) -> float:
    """P(X >= successes) for X ~ Binomial(trials, 1/2): the one-sided p-value against chance."""
    return sum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2**trials


@experiment(
    "quickstart",
    claim=CLAIM,
    config=QuickstartConfig,
    presets={"cpu": {}, "gpu": dict(batch_size=32, max_new_tokens=128)},
)
def quickstart(cfg: QuickstartConfig, ctx: RunContext) -> Outcome:
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
    correct_mean = [c.mean > r.mean for c, r in zip(chosen, rejected, strict=True)]
    accuracy = sum(correct) / len(pairs)
    p_value = binomial_p_value(sum(correct), len(pairs))
    categories = list(dict.fromkeys(p["category"] for p in pairs))
    by_category = {
        c: sum(ok for ok, p in zip(correct, pairs, strict=True) if p["category"] == c)
        / sum(p["category"] == c for p in pairs)
        for c in categories
    }

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

    measured = {
        "judge_accuracy": round(accuracy, 3),
        "judge_accuracy_length_normalised": round(sum(correct_mean) / len(pairs), 3),
        "judge_p_value": round(p_value, 5),
        **{f"judge_accuracy_{c}": round(v, 3) for c, v in by_category.items()},
        **{f"refusal_rate_{k}": round(v, 3) for k, v in refusal_rate.items()},
        "load_s": round(load_s, 2),
        "generation_tokens_per_s": round(new_tokens / gen_s, 1),
        "scoring_tokens_per_s": round(sum(len(s.token_logprobs) for s in scored) / score_s, 1),
    }
    verdict = "reproduced" if p_value < 0.05 else "not_reproduced"
    summary = (
        f"the likelihood judge picked the known-good answer in {sum(correct)}/{len(pairs)} pairs "
        f"({accuracy:.0%}, one-sided p = {p_value:.2g} against chance); the keyword heuristic flags "
        + ", ".join(f"{v:.0%} of {k} probes" for k, v in refusal_rate.items())
        + " as refusals"
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
                    "prompt (chat template applied); the judge prefers the higher one."
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
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={"judge_accuracy": "above chance (50%); larger models better calibrated"},
        sections=sections,
    )


EXPERIMENT = quickstart
