"""debate-qa: naive judge vs consultancy vs debate on reading-comprehension questions whose story only the
debaters see (Khan et al. 2024), with every role played by the embedded model or an endpoint."""

from pydantic import field_validator

from ..models import check_model_name
from ..reporting import Claim, Code, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class DebateQAConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"
    """Debaters, consultant and judge: one model."""
    endpoint: str | None = None
    """An OpenAI-compatible base URL serving ``model``; None loads it here."""
    questions: int = 16
    """Stories from the built-in set (16 fictional ones, so the judge cannot know the answers)."""
    rounds: int = 1
    evidence_tokens: int = 32

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return check_model_name(name)


CLAIM = Claim(
    paper="Khan et al. 2024, Debating with More Persuasive LLMs Leads to More Truthful Answers",
    finding="with the story hidden from the judge, LLM judges reach 76% with debate (humans 88%) against 48% "
    "(60%) as naive judges; consultancy falls between",
    expectation="the same model judges best after a debate: reproduced if debate accuracy beats both the naive "
    "judge and consultancy, partial if it beats only the naive judge. The quote-count judge is a heuristic "
    "baseline, not the result",
)


BASELINE = "debate, quote-count baseline"


def _questions(n: int):
    from ..data.builtin_data import load_builtin
    from ..oversight.debate import DebateQuestion

    rows = load_builtin("debate_stories", required=("passage", "question", "correct", "distractor"))[:n]
    # the correct option alternates between the first and second place
    return [
        DebateQuestion(
            r["question"],
            (r["correct"], r["distractor"]) if i % 2 == 0 else (r["distractor"], r["correct"]),
            i % 2,
            r["passage"],
        )
        for i, r in enumerate(rows)
    ]


@experiment(
    "debate-qa",
    claim=CLAIM,
    config=DebateQAConfig,
    presets={"cpu": {}, "gpu": dict(rounds=3, evidence_tokens=64)},
)
def debate_qa(cfg: DebateQAConfig, ctx: RunContext) -> Outcome:
    """Judge accuracy for naive, consultancy and debate protocols with the story hidden from the judge."""
    import dataclasses
    import time

    from ..generation import SamplingParams, open_generator
    from ..oversight.debate import (
        DebateArena,
        Debater,
        LLMJudge,
        QuoteJudge,
        debate_statistics,
        render_transcript,
    )

    plt = pyplot()
    generator = open_generator(cfg.model, endpoint=cfg.endpoint, device=ctx.device, seed=ctx.seed)
    questions = _questions(cfg.questions)
    half = len(questions) // 2
    params = SamplingParams(cfg.evidence_tokens, stop=("\n",))
    honest, liar = Debater(generator, True, params), Debater(generator, False, params)
    arena = DebateArena(LLMJudge(generator), rounds=cfg.rounds)
    timings, results = {}, {}

    start = time.perf_counter()
    results["naive"] = arena.naive(questions)
    timings["naive"] = time.perf_counter() - start
    start = time.perf_counter()  # the consultant is honest on the first half, deceptive on the second
    results["consultancy"] = arena.consultancy(questions[:half], honest) + arena.consultancy(
        questions[half:], liar
    )
    timings["consultancy"] = time.perf_counter() - start
    start = time.perf_counter()  # the honest debater opens on the first half and responds on the second
    results["debate"] = arena.debate(questions[:half], honest, liar) + arena.debate(
        questions[half:], liar, honest
    )
    timings["debate"] = time.perf_counter() - start
    baseline = DebateArena(QuoteJudge()).judge_results(
        [dataclasses.replace(r) for r in results["debate"]]  # copies: the LLM judge's verdicts stay
    )
    stats = {name: debate_statistics(rs) for name, rs in results.items()}
    stats[BASELINE] = debate_statistics(baseline)
    for step, s in enumerate(stats.values()):
        ctx.log(step, accuracy=s["accuracy"], mean_judge_confidence=s["mean_judge_confidence"])
    accuracy = {name: s["accuracy"] for name, s in stats.items()}
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = ax.bar(
        list(accuracy), list(accuracy.values()), color=["gray", "tab:orange", "tab:blue", "lightblue"]
    )
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in accuracy.values()])
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle="--")
    ax.set(
        ylim=(0, 1), ylabel="judge accuracy", title="Judge accuracy by protocol (story hidden from the judge)"
    )
    ax.tick_params(axis="x", labelsize=8)
    figure = ctx.figure(fig, "debate_qa", "Dashed: chance. The quote-count judge is a heuristic baseline.")

    debate_acc, naive_acc, consult_acc = accuracy["debate"], accuracy["naive"], accuracy["consultancy"]
    verdict = (
        "reproduced"
        if debate_acc > naive_acc and debate_acc > consult_acc
        else "partial"
        if debate_acc > naive_acc
        else "not_reproduced"
    )
    measured = {
        **{f"accuracy_{k}": round(accuracy[k], 3) for k in results},
        "accuracy_debate_quote_baseline": round(accuracy[BASELINE], 3),
        "decided_debate_quote_baseline": stats[BASELINE]["decided"],
        "honest_win_rate_debate": round(stats["debate"]["honest_win_rate"], 3),
        "consultant_win_rate_when_deceptive": round(
            sum(r.winner == "consultant" for r in results["consultancy"][half:])
            / max(1, len(questions) - half),
            3,
        ),
        **{f"judge_p_first_shown_{k}": round(stats[k]["p_first_shown"], 3) for k in results},
        **{f"mean_judge_confidence_{k}": round(stats[k]["mean_judge_confidence"], 4) for k in results},
        "verified_quote_rate_honest": round(stats["debate"]["verified_quote_rate_honest"], 3),
        "verified_quote_rate_dishonest": round(stats["debate"]["verified_quote_rate_dishonest"], 3),
        "judge_failures": sum(s["failed"] for name, s in stats.items() if name in results),
        **{f"{k}_s": round(v, 1) for k, v in timings.items()},
    }
    summary = (
        f"judge accuracy naive {naive_acc:.0%}, consultancy {consult_acc:.0%}, debate {debate_acc:.0%} on "
        f"{len(questions)} questions (the quote-count baseline decides {stats[BASELINE]['decided']} debates, "
        f"{accuracy[BASELINE]:.0%} of them correctly); "
        f"the judge puts P = {stats['debate']['p_first_shown']:.2f} on whichever answer is shown first, so after averaging both "
        f"orders its mean confidence is {stats['debate']['mean_judge_confidence']:.3f}"
    )
    example = results["debate"][0]
    sections = [
        Section("Plots", [figure]),
        Section(
            "Protocols",
            [
                Text(
                    "Each question has two options (the correct one alternates between places). The consultant "
                    "is honest on half the questions and deceptive on the rest; in debate the honest side opens "
                    "on half and responds on the rest. A debater's argument is its claim plus the sentence it "
                    "copies from the story as evidence; quotes found word for word in the story are shown to the "
                    "judge as verified. The judge reads P('1') vs P('2') with the options in both orders."
                ),
                Table(
                    ["protocol", *next(iter(stats.values()))],
                    [
                        [name, *[round(v, 3) if isinstance(v, float) else v for v in s.values()]]
                        for name, s in stats.items()
                    ],
                ),
            ],
        ),
        Section(
            "An example debate",
            [
                Code(
                    f"Story (hidden from the judge): {example.question.passage}\nQuestion: {example.question.question}\n"
                    f"1. {example.question.options[0]}\n2. {example.question.options[1]}"
                    + render_transcript(example.transcript)
                    + f"\nJudge: {example.rationale}; winner {example.winner}"
                )
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "accuracy_debate": 0.76,
            "accuracy_naive": 0.48,
            "human_debate": 0.88,
            "human_naive": 0.60,
        },
        sections=sections,
    )


EXPERIMENT = debate_qa
