"""rlaif-vs-rlhf: the same reward-model + PPO pipeline fed by an off-the-shelf LLM's preference labels (RLAIF)
or by the gold labels that stand in for humans (RLHF), both policies judged by the gold reward (Lee et al.
2023), on the synthetic sentiment task rendered in English words."""

from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count, LearningRate, NonNegativeFloat
from ..models import check_model_name
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, binomial_p_value, mean_estimate, pooled_estimate
from ._sentiment_config import SentimentConfig
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable

ALPHA = 0.05
COMPARABLE = 0.05
"""Lee et al.'s RLAIF and RLHF win rates differ by 2 points; "about as often" here means at most 5 below."""


class RLAIFvsRLHFConfig(SentimentConfig):
    labeler_model: str = "smollm2-135m-instruct"
    """The AI labeler: any model name ``load_model`` takes; it never sees the gold reward."""
    endpoint: str | None = None
    """An OpenAI-compatible base URL serving ``labeler_model`` (e.g. ``alignlab serve``); None loads it here."""
    criterion: str = "more positive"
    """What the labeler is asked: "Which reply to the user is {criterion}?"."""
    n_pairs: Count = 160
    """Pairs of base-model samples, each labelled by the AI and by gold: the labeler's forward passes (two
    orders per pair) are most of the CPU time."""
    completion_length: Count = 8
    held_out_pairs: Count = 256
    rm_steps: Count = 150
    ppo_steps: Count = 100
    prompts_per_step: Count = 32
    kl_coef: NonNegativeFloat = 0.05
    lr: LearningRate = 3e-4

    @field_validator("labeler_model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return check_model_name(name)


CLAIM = Claim(
    paper="Lee et al. 2023, RLAIF vs. RLHF: Scaling Reinforcement Learning from Human Feedback with AI Feedback",
    finding="policies trained on AI preference labels win against the SFT policy about as often as policies "
    "trained on human labels (summarisation 71% vs 73%; helpful dialogue 63% vs 64%)",
    expectation="first, before anything is trained, the AI labeler must agree with the noise-free gold "
    "preference more often than chance (one-sided exact binomial test, p < 0.05), else the verdict is not "
    "applicable at this scale. Then, judged by gold against the base policy's sample for the same prompt: "
    "reproduced if the RLAIF policy's win rate is above 50% by more than two standard errors and not clearly "
    "(two standard errors) more than 5 points below the RLHF policy's; partial if only the first",
)


class RLAIFRecord(Record):
    labeler_agrees: list[int]
    """Per pair whose gold rewards differ and that the labeler decided: 1 where it picks the gold winner."""
    labeler_failed: int
    labeler_p_first_shown: float | None
    human_label_agreement: float
    wins_rlaif: list[float] | None = None
    """Per evaluation prompt: 1 if the policy's sample beats the base policy's by gold, ½ on a tie, else 0.
    None when the labeler was at chance and nothing was trained."""
    wins_rlhf: list[float] | None = None
    rm_accuracy_rlaif: float | None = None
    rm_accuracy_rlhf: float | None = None
    kl_rlaif: float | None = None
    kl_rlhf: float | None = None


def labeler_above_chance(agrees: Sequence[int]) -> tuple[bool, float]:
    p_value = binomial_p_value(sum(agrees), len(agrees))
    return p_value < ALPHA, p_value


def decide(records: Sequence[RLAIFRecord]) -> Decision:
    agrees = [a for r in records for a in r.labeler_agrees]
    above, p_value = labeler_above_chance(agrees)
    figures = {
        "labeler_agreement_with_gold": round(sum(agrees) / len(agrees), 3) if agrees else None,
        "labeler_decided_pairs": len(agrees),
    }
    check = (
        f"the AI labeler agrees with gold on {sum(agrees)}/{len(agrees)} pairs (binomial p = {p_value:.2g})"
    )
    if not above or any(r.wins_rlaif is None for r in records):
        return not_applicable(
            check + ": at chance on the task itself, so the claim cannot be tested at this scale", figures
        )
    rlaif = pooled_estimate([mean_estimate(r.wins_rlaif) for r in records])
    rlhf = pooled_estimate([mean_estimate(r.wins_rlhf) for r in records])
    gap = pooled_estimate(
        [mean_estimate([a - b for a, b in zip(r.wins_rlaif, r.wins_rlhf, strict=True)]) for r in records]
    )
    figures |= {"win_rate_rlaif": round(rlaif.value, 3), "win_rate_rlhf": round(rlhf.value, 3)}
    beats_base = rlaif.clearly_above(0.5)
    comparable = not Estimate(gap.value + COMPARABLE, gap.se, gap.n).clearly_below(0)
    reasons = [
        check,
        f"win rate against the base policy: RLAIF {rlaif}, RLHF {rlhf}; RLAIF minus RLHF {gap}",
    ]
    return graded(beats_base and comparable, beats_base, reasons, figures)


@experiment(
    "rlaif-vs-rlhf",
    claim=CLAIM,
    config=RLAIFvsRLHFConfig,
    decide=decide,
    paper_figures={
        "win_rate_rlaif": "0.71 (summarisation), 0.63 (helpful dialogue)",
        "win_rate_rlhf": "0.73 (summarisation), 0.64 (helpful dialogue)",
        "labeler_agreement_with_gold": "~0.78 (PaLM 2 on summarisation)",
    },
    presets={
        "cpu": {},
        # a labeller large enough to read sentiment; the hub id needs the network (or pass a local folder)
        "gpu": dict(
            labeler_model="HuggingFaceTB/SmolLM2-1.7B-Instruct",
            n_pairs=1024,
            rm_steps=400,
            ppo_steps=300,
            prompts_per_step=64,
        ),
    },
)
def rlaif_vs_rlhf(cfg: RLAIFvsRLHFConfig, ctx: RunContext) -> Measurement:
    """Label one set of pairs twice (AI, gold); if the AI labeler beats chance, train an RM and a PPO policy on
    each label set and compare their gold win rates against the base policy."""
    import copy

    from ..data.formats import PreferenceExample
    from ..data.tasks import label_pairs
    from ..generation import open_generator
    from ..oversight import PairwiseJudge, labeler_report, preference_records
    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, make_setup, pairwise_accuracy, sample, train_proxy_reward_model

    plt = pyplot()
    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    gold = setup.task.gold_reward
    prompts = setup.task.prompts(cfg.n_pairs, seed=ctx.seed + 10)
    first = sample(setup, setup.base, prompts, seed=ctx.seed + 10)
    second = sample(setup, setup.base, prompts, seed=ctx.seed + 11)
    human_pairs, human_agreement = label_pairs(
        prompts, first, second, [gold(x) for x in first], [gold(x) for x in second], seed=ctx.seed
    )

    labeler = PairwiseJudge(
        open_generator(cfg.labeler_model, endpoint=cfg.endpoint, device=ctx.device, seed=ctx.seed),
        criterion=cfg.criterion,
    )
    triples = list(zip(prompts, first, second, strict=True))
    labels = labeler.label(triples)
    ctx.write_jsonl(
        "ai_labels",
        [
            dict(
                prompt=q,
                a=a,
                b=b,
                gold_a=gold(a),
                gold_b=gold(b),
                preferred=label.preferred,
                why=label.rationale,
            )
            for (q, a, b), label in zip(triples, labels, strict=True)
        ],
    )
    decided = [
        (label, "a" if gold(a) > gold(b) else "b")
        for (_, a, b), label in zip(triples, labels, strict=True)
        if gold(a) != gold(b)
    ]
    report = labeler_report([label for label, _ in decided], [g for _, g in decided])
    agrees = [int(label.preferred == g) for label, g in decided if label.preferred is not None]
    record = RLAIFRecord(
        labeler_agrees=agrees, labeler_failed=report["failed"], labeler_p_first_shown=report.get("p_first_shown"),
        human_label_agreement=human_agreement,
    )  # fmt: skip
    above, p_value = labeler_above_chance(agrees)
    ctx.log(0, labeler_agreement=sum(agrees) / max(len(agrees), 1), labeler_p_value=p_value)
    labeler_text = Text(
        f'The AI labeler is asked "Which reply to the user is {cfg.criterion}?" about two base-model samples, in both '
        "orders, and its probabilities of the tokens 1 and 2 are averaged over the orders (labels in ai_labels.jsonl). "
        f"On the {len(decided)} pairs whose gold rewards differ it decides {len(agrees)} and agrees with gold on "
        f"{sum(agrees)} (binomial p = {p_value:.2g} against chance); P(the first-shown reply is better) "
        f"{report.get('p_first_shown', float('nan')):.2f}. The gold labels the RLHF pipeline trains on agree with the "
        f"noise-free gold preference {human_agreement:.1%} of the time (Bradley-Terry noise, as human labels have)."
    )
    if not above:
        return Measurement(record, [Section("The labeler on the task itself", [labeler_text, Text(
            "The labeler is at chance on the task: nothing was trained, since any comparison of the pipelines would "
            "measure the labeler's noise, not RLAIF."
        )])])  # fmt: skip

    ai_pairs = [PreferenceExample(**r) for r in preference_records(triples, labels)]
    held_out_prompts = setup.task.prompts(cfg.held_out_pairs, seed=ctx.seed + 20)
    ha = sample(setup, setup.base, held_out_prompts, seed=ctx.seed + 20)
    hb = sample(setup, setup.base, held_out_prompts, seed=ctx.seed + 21)
    held_out = [  # ranked by gold without noise, ties dropped
        PreferenceExample(q, *sorted((a, b), key=gold, reverse=True))
        for q, a, b in zip(held_out_prompts, ha, hb, strict=True)
        if gold(a) != gold(b)
    ]
    base_samples = sample(setup, setup.base, setup.eval_prompts, seed=ctx.seed + 30)
    results = {}
    for name, pairs in (("rlhf", human_pairs), ("rlaif", ai_pairs)):
        reward_model, _ = train_proxy_reward_model(
            setup, pairs, steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
        )
        policy = copy.deepcopy(setup.base)
        train_ppo(
            policy, setup.tokenizer, setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 40),
            [reward_model_fn(reward_model, setup.tokenizer, chat=False)],
            PPOConfig(prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.completion_length, kl_coef=cfg.kl_coef),
            TrainConfig(steps=cfg.ppo_steps, lr=cfg.lr, log_every=max(1, cfg.ppo_steps // 5), schedule="constant"),
            chat=False,
            options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=ctx.logger(name)),
        )  # fmt: skip
        completions = sample(setup, policy, setup.eval_prompts, seed=ctx.seed + 31)
        wins = [
            1.0 if gold(c) > gold(b) else 0.5 if gold(c) == gold(b) else 0.0
            for c, b in zip(completions, base_samples, strict=True)
        ]
        results[name] = dict(
            pairs=len(pairs), wins=wins, rm_accuracy=pairwise_accuracy(setup, reward_model, held_out),
            kl=evaluate(setup, policy, seed=ctx.seed, completions=completions).kl,
        )  # fmt: skip
    ai, human = results["rlaif"], results["rlhf"]
    record = record.model_copy(
        update=dict(
            wins_rlaif=ai["wins"], wins_rlhf=human["wins"], rm_accuracy_rlaif=ai["rm_accuracy"],
            rm_accuracy_rlhf=human["rm_accuracy"], kl_rlaif=ai["kl"], kl_rlhf=human["kl"],
        )
    )  # fmt: skip

    estimates = {name: mean_estimate(r["wins"]) for name, r in results.items()}
    fig, ax = plt.subplots(figsize=(6, 4))
    names = ["RLHF (gold labels)", "RLAIF (AI labels)"]
    ax.bar(names, [estimates["rlhf"].value, estimates["rlaif"].value],
           yerr=[2 * estimates["rlhf"].se, 2 * estimates["rlaif"].se], capsize=6)  # fmt: skip
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle=":")
    ax.set(ylim=(0, 1), ylabel="gold win rate vs the base policy", title="RLAIF vs RLHF")
    figure = ctx.figure(
        fig, "win_rates", "Win rate against the base policy's sample for the same prompt, ±2 s.e."
    )
    sections = [
        Section("Plots", [figure]),
        Section("The labeler on the task itself", [labeler_text]),
        Section(
            "Results",
            [
                Table(
                    ["pipeline", "preference pairs", "RM accuracy (held-out gold)", "win rate", "± s.e.", "KL (nats)"],
                    [[name.upper(), r["pairs"], round(r["rm_accuracy"], 3), round(estimates[name].value, 3),
                      round(estimates[name].se, 3), round(r["kl"], 3)] for name, r in results.items()],
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task in English words (gold reward: share of positive words minus share of negative "
                    f"ones in a {cfg.completion_length}-word completion). The same {cfg.n_pairs} prompts and sample pairs "
                    f"are labelled twice; each label set trains a reward model on the base trunk ({cfg.rm_steps} steps) "
                    f"and a PPO policy ({cfg.ppo_steps} steps of {cfg.prompts_per_step} prompts, KL coefficient "
                    f"{cfg.kl_coef}). Both policies answer the same {cfg.n_eval_prompts} evaluation prompts as the base."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = rlaif_vs_rlhf
