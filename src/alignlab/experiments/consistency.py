"""consistency: does the model give the same answer to the same question asked three ways, and to the same
options in another order (Elazar et al. 2021, ParaRel)?"""

from collections.abc import Sequence
from itertools import combinations

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import binomial_p_value, mean_estimate
from ._eval_model import EvalModelConfig, local_generator
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable

CHANCE = 0.25
"""Four options: two answers picked at random agree a quarter of the time, and one is right a quarter."""
ALPHA = 0.05


class ConsistencyConfig(EvalModelConfig):
    """The model under evaluation; nothing else to set."""


CLAIM = Claim(
    paper="Elazar et al. 2021 (TACL), Measuring and Improving Consistency in Pretrained Language Models (ParaRel)",
    finding="the consistency of pretrained LMs across paraphrases of the same query is poor, with high variance "
    "across relations",
    expectation="over 48 facts in three relations, each asked three ways with the same four options: the model "
    "must first know the facts (accuracy on the first wording above chance, exact binomial p < 0.05), else not "
    "applicable. Then, by two standard errors over facts: (a) poor but real consistency: the share of paraphrase "
    "pairs answered alike is below 1 and above the 0.25 of random answers; (b) the chosen option changes when the "
    "lettered options are reversed (agreement across orders below 1). Reproduced if both, partial if one",
)


class FactAnswers(Record):
    relation: str
    subject: str
    answers: list[str | None]
    """The chosen option's text for each wording (None: the options tied)."""
    correct: list[bool]
    forward: str | None
    """The option chosen by letter with the options in order, and reversed."""
    reversed: str | None


class ConsistencyRecord(Record):
    facts: list[FactAnswers]


def paraphrase_agreement(fact: FactAnswers) -> float:
    pairs = list(combinations(fact.answers, 2))
    return sum(a is not None and a == b for a, b in pairs) / len(pairs)


def decide(records: Sequence[ConsistencyRecord]) -> Decision:
    (r,) = records
    if not r.facts:
        return not_applicable("no facts were asked")
    right = sum(f.correct[0] for f in r.facts)
    p_known = binomial_p_value(right, len(r.facts), CHANCE)
    figures = {"accuracy_first_wording": round(right / len(r.facts), 3)}
    if p_known >= ALPHA:
        return not_applicable(
            f"the model is right on {right}/{len(r.facts)} facts asked the first way (p = {p_known:.2g} against "
            f"chance {CHANCE}): it does not know them, so disagreement says nothing about consistency",
            figures,
        )
    paraphrase = mean_estimate([paraphrase_agreement(f) for f in r.facts])
    order = mean_estimate([float(f.forward is not None and f.forward == f.reversed) for f in r.facts])
    by_relation = {
        rel: round(sum(paraphrase_agreement(f) for f in r.facts if f.relation == rel)
                   / sum(f.relation == rel for f in r.facts), 3)
        for rel in dict.fromkeys(f.relation for f in r.facts)
    }  # fmt: skip
    figures |= {"paraphrase_agreement": round(paraphrase.value, 3), "order_agreement": round(order.value, 3)}
    figures |= {f"paraphrase_agreement_{rel}": v for rel, v in by_relation.items()}
    a = paraphrase.clearly_below(1) and paraphrase.clearly_above(CHANCE)
    b = order.clearly_below(1)
    reasons = (
        f"the model knows {right}/{len(r.facts)} facts asked the first way (binomial p = {p_known:.2g})",
        f"(a) {'holds' if a else 'not shown'}: paraphrase pairs answered alike {paraphrase} (by relation "
        + ", ".join(f"{k} {v}" for k, v in by_relation.items())
        + f"); random answers give {CHANCE}",
        f"(b) {'holds' if b else 'not shown'}: the same option chosen with the options in order and reversed {order}",
    )
    return graded(a and b, a or b, reasons, figures)


@experiment(
    "consistency",
    claim=CLAIM,
    config=ConsistencyConfig,
    decide=decide,
    seeded=False,
    paper_figures={
        "finding": "poor consistency across paraphrases for every pretrained LM tested, with high "
        "variance across relations"
    },  # fmt: skip
    presets={"cpu": {}, "gpu": dict(model="HuggingFaceTB/SmolLM2-1.7B-Instruct")},
)
def consistency(cfg: ConsistencyConfig, ctx: RunContext) -> Measurement:
    """The consistency task in both kinds, paired fact by fact."""
    plt = pyplot()
    from ..evals import eval_task, get_task

    generator = local_generator(cfg, ctx)
    runs = {
        kind: eval_task(get_task("consistency", kind=kind), generator, model_name=cfg.model,
                        batch_size=cfg.batch_size, out=ctx.path / "evals")
        for kind in ("paraphrase", "order")
    }  # fmt: skip

    def chosen(sample: dict) -> str | None:
        letter = sample["scores"]["choice"].get("answer")
        return sample["choices"][ord(letter) - ord("A")] if letter else None

    facts: dict[str, dict] = {}
    for s in runs["paraphrase"].samples:
        key = s["id"].rsplit("-p", 1)[0]
        fact = facts.setdefault(key, {"relation": s["metadata"]["relation"], "subject": s["metadata"]["subject"],
                                      "answers": [], "correct": []})  # fmt: skip
        fact["answers"].append(chosen(s))
        fact["correct"].append(s["scores"]["choice"]["value"] == "C")
    for s in runs["order"].samples:
        key, direction = s["id"].rsplit("-p1-", 1)
        facts[key][direction] = chosen(s)
    record = ConsistencyRecord(facts=[FactAnswers(**f) for f in facts.values()])

    relations = list(dict.fromkeys(f.relation for f in record.facts))
    rows = []
    for rel in relations:
        chosen_facts = [f for f in record.facts if f.relation == rel]
        rows.append([
            rel, len(chosen_facts),
            round(sum(sum(f.correct) / len(f.correct) for f in chosen_facts) / len(chosen_facts), 3),
            round(sum(paraphrase_agreement(f) for f in chosen_facts) / len(chosen_facts), 3),
            round(sum(f.forward is not None and f.forward == f.reversed for f in chosen_facts) / len(chosen_facts), 3),
        ])  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = range(len(relations))
    ax.bar([x - 0.2 for x in xs], [row[3] for row in rows], width=0.4, label="paraphrase pairs alike")
    ax.bar([x + 0.2 for x in xs], [row[4] for row in rows], width=0.4, label="same option across orders")
    ax.axhline(CHANCE, color="gray", linestyle=":", label="random answers")
    ax.set_xticks(list(xs), relations)
    ax.set(ylim=(0, 1), ylabel="agreement", title=f"Consistency, {cfg.model}")
    ax.legend(fontsize=8)
    figure = ctx.figure(
        fig, "consistency", "Agreement across the three wordings and across option orders, per relation."
    )
    sections = [
        Section("Plots", [figure]),
        Section(
            "By relation",
            [
                Text(
                    "Paraphrases are answered by option probability (options not shown); orders by the most likely "
                    "letter with the options listed forward and reversed. Inspect logs are under `evals/`."
                ),
                Table(["relation", "facts", "accuracy", "paraphrase agreement", "order agreement"], rows),
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = consistency
