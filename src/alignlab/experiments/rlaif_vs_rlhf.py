"""rlaif-vs-rlhf: the same reward-model + PPO pipeline fed by an off-the-shelf LLM's preference labels (RLAIF)
or by the gold labels that stand in for humans (RLHF), both policies judged by the gold reward (Lee et al.
2023), on the synthetic sentiment task."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ._sentiment_config import SentimentConfig
from .registry import Outcome, RunContext, experiment


class RLAIFvsRLHFConfig(SentimentConfig):
    labeler_model: str = "smollm2-135m-instruct"
    """The AI labeler: any model name ``load_model`` takes; it never sees the gold reward."""
    endpoint: str | None = None
    """An OpenAI-compatible base URL serving ``labeler_model`` (e.g. ``alignlab serve``); None loads it here."""
    criterion: str = "more positive"
    """What the labeler is asked: "Which reply to the user is {criterion}?"."""
    n_pairs: int = 160
    """Pairs of base-model samples, each labelled by the AI and by gold: the labeler's forward passes (two
    orders per pair) are most of the CPU time."""
    completion_length: int = 8
    rm_steps: int = 150
    ppo_steps: int = 100
    prompts_per_step: int = 32
    kl_coef: float = 0.05
    lr: float = 3e-4


CLAIM = Claim(
    paper="Lee et al. 2023, RLAIF vs. RLHF: Scaling Reinforcement Learning from Human Feedback with AI Feedback",
    finding="policies trained on AI preference labels win against the SFT policy about as often as policies "
    "trained on human labels (summarisation 71% vs 73%; helpful dialogue 63% vs 64%)",
    expectation="the RLAIF policy's gold win rate against the base policy is above 50% by more than two standard "
    "errors and at most 5 points below the RLHF policy's: reproduced if both, partial if only the first",
)


@experiment(
    "rlaif-vs-rlhf",
    claim=CLAIM,
    config=RLAIFvsRLHFConfig,
    presets={"cpu": {}, "gpu": dict(n_pairs=1024, rm_steps=400, ppo_steps=300, prompts_per_step=64)},
)
def rlaif_vs_rlhf(cfg: RLAIFvsRLHFConfig, ctx: RunContext) -> Outcome:
    """Label one set of pairs twice (AI, gold), train a reward model and a PPO policy on each, compare by gold."""
    import copy

    from ..data.formats import PreferenceExample
    from ..data.tasks import label_pairs
    from ..generation import open_generator
    from ..oversight import PairwiseJudge, labeler_report, preference_records
    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import (
        evaluate,
        make_setup,
        mean_and_sem,
        pairwise_accuracy,
        sample,
        train_proxy_reward_model,
    )

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
    ctx.run.write_jsonl(
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
    ai_pairs = [PreferenceExample(**r) for r in preference_records(triples, labels)]
    gold_decided = [
        (label, "a" if gold(a) > gold(b) else "b")
        for (_, a, b), label in zip(triples, labels, strict=True)
        if gold(a) != gold(b)
    ]
    report = labeler_report([label for label, _ in gold_decided], [g for _, g in gold_decided])

    held_out_prompts = setup.task.prompts(256, seed=ctx.seed + 20)
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
        rm_accuracy = pairwise_accuracy(setup, reward_model, held_out)
        policy = copy.deepcopy(setup.base)
        train_ppo(
            policy,
            setup.tokenizer,
            setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 40),
            [reward_model_fn(reward_model, setup.tokenizer, chat=False)],
            PPOConfig(
                prompts_per_step=cfg.prompts_per_step,
                max_new_tokens=cfg.completion_length,
                kl_coef=cfg.kl_coef,
            ),
            TrainConfig(
                steps=cfg.ppo_steps, lr=cfg.lr, log_every=max(1, cfg.ppo_steps // 5), schedule="constant"
            ),
            chat=False,
            options=RunOptions(
                seed=ctx.seed,
                device=ctx.device,
                on_log=lambda step, record, name=name: ctx.log(
                    step, **{f"{name}_{k}": v for k, v in record.items()}
                ),
            ),
        )
        completions = sample(setup, policy, setup.eval_prompts, seed=ctx.seed + 31)
        point = evaluate(setup, policy, seed=ctx.seed, completions=completions)
        # win against the base policy's sample for the same prompt, judged by gold; a tie counts half
        wins = [
            1.0 if gold(c) > gold(b) else 0.5 if gold(c) == gold(b) else 0.0
            for c, b in zip(completions, base_samples, strict=True)
        ]
        win_rate, win_se = mean_and_sem(wins)
        results[name] = dict(
            pairs=len(pairs),
            rm_accuracy=rm_accuracy,
            win_rate=win_rate,
            win_se=win_se,
            gold=point["gold"],
            kl=point["kl"],
        )
    base_gold = evaluate(setup, setup.base, seed=ctx.seed, completions=base_samples)["gold"]

    ai, human = results["rlaif"], results["rlhf"]
    beats_base = ai["win_rate"] > 0.5 + 2 * ai["win_se"]
    comparable = ai["win_rate"] >= human["win_rate"] - 0.05
    verdict = "reproduced" if beats_base and comparable else "partial" if beats_base else "not_reproduced"

    fig, ax = plt.subplots(figsize=(6, 4))
    names = ["RLHF (gold labels)", "RLAIF (AI labels)"]
    ax.bar(
        names, [human["win_rate"], ai["win_rate"]], yerr=[2 * human["win_se"], 2 * ai["win_se"]], capsize=6
    )
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle=":")
    ax.set(ylim=(0, 1), ylabel="gold win rate vs the base policy", title="RLAIF vs RLHF")
    figure = ctx.figure(
        fig, "win_rates", "Win rate against the base policy's sample for the same prompt, ±2 s.e."
    )

    measured = {
        "labeler_agreement_with_gold": round(report["agreement"], 3),
        "labeler_decided": f"{report['decided']}/{report['n']}",
        "labeler_failed": report["failed"],
        "labeler_p_first_shown": round(report.get("p_first_shown", float("nan")), 3),
        "labeler_order_inconsistent": round(report.get("order_inconsistent", float("nan")), 3),
        "human_label_agreement_with_gold": round(human_agreement, 3),
        "win_rate_rlaif": round(ai["win_rate"], 3),
        "win_rate_rlaif_se": round(ai["win_se"], 3),
        "win_rate_rlhf": round(human["win_rate"], 3),
        "win_rate_rlhf_se": round(human["win_se"], 3),
        "rm_accuracy_rlaif": round(ai["rm_accuracy"], 3),
        "rm_accuracy_rlhf": round(human["rm_accuracy"], 3),
        "gold_reward_base": round(base_gold, 4),
        "gold_reward_rlaif": round(ai["gold"], 4),
        "gold_reward_rlhf": round(human["gold"], 4),
        "kl_rlaif": round(ai["kl"], 3),
        "kl_rlhf": round(human["kl"], 3),
    }
    summary = (
        f"win rate vs the base policy, judged by gold: RLAIF {ai['win_rate']:.1%} ± {ai['win_se']:.1%}, RLHF "
        f"{human['win_rate']:.1%} ± {human['win_se']:.1%}; the AI labeler ({cfg.labeler_model}) agrees with gold "
        f"on {report['agreement']:.1%} of {report['decided']} decided pairs (P(first shown) "
        f"{report.get('p_first_shown', float('nan')):.2f})"
    )
    sections = [
        Section("Plots", [figure]),
        Section(
            "Results",
            [
                Table(
                    [
                        "pipeline",
                        "preference pairs",
                        "RM accuracy (held-out gold)",
                        "win rate",
                        "± s.e.",
                        "gold reward",
                        "KL (nats)",
                    ],
                    [
                        [
                            name,
                            r["pairs"],
                            round(r["rm_accuracy"], 3),
                            round(r["win_rate"], 3),
                            round(r["win_se"], 3),
                            round(r["gold"], 4),
                            round(r["kl"], 3),
                        ]
                        for name, r in (("RLHF", human), ("RLAIF", ai))
                    ]
                    + [["base policy", "", "", 0.5, "", round(base_gold, 4), 0.0]],
                ),
                Text(
                    f'The AI labeler is asked "Which reply to the user is {cfg.criterion}?" about two base-model samples, '
                    "in both orders, and its probabilities of the tokens 1 and 2 are averaged over the orders "
                    "(labels in ai_labels.jsonl). Agreement is measured against the noise-free gold preference on "
                    f"pairs whose gold rewards differ; the gold labels the RLHF pipeline trains on agree with it "
                    f"{human_agreement:.1%} of the time (Bradley-Terry noise, as human labels have)."
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task (gold reward: share of good words minus share of bad ones in a "
                    f"{cfg.completion_length}-word completion). The same {cfg.n_pairs} prompts and sample pairs are "
                    f"labelled twice; each label set trains a reward model on the base trunk ({cfg.rm_steps} steps) "
                    f"and a PPO policy ({cfg.ppo_steps} steps of {cfg.prompts_per_step} prompts, KL coefficient "
                    f"{cfg.kl_coef}). Both policies answer the same {cfg.n_eval_prompts} evaluation prompts as the base."
                )
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "win_rate_rlaif_summarization": 0.71,
            "win_rate_rlhf_summarization": 0.73,
            "win_rate_rlaif_helpfulness": 0.63,
            "win_rate_rlhf_helpfulness": 0.64,
        },
        sections=sections,
    )


EXPERIMENT = rlaif_vs_rlhf
