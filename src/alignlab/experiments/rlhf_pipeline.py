"""rlhf-pipeline: base model -> reward model on gold-labelled pairs -> PPO, with the gold reward tracked."""

from collections.abc import Sequence

from ..config import Count, LearningRate, NonNegativeFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from ._sentiment_config import SentimentConfig
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded


class RLHFPipelineConfig(SentimentConfig):
    n_pairs: Count = 1024
    """Preference pairs (two base-model samples per prompt, labelled by the gold reward)."""
    held_out_pairs: Count = 256
    rm_steps: Count = 200
    ppo_steps: Count = 150
    prompts_per_step: Count = 32
    kl_coef: NonNegativeFloat = 0.05
    lr: LearningRate = 3e-4
    eval_every: Count = 25


CLAIM = Claim(
    paper="Ziegler et al. 2019, Fine-Tuning Language Models from Human Preferences; Ouyang et al. 2022 (InstructGPT)",
    finding="a reward model trained on human comparisons, optimised with PPO under a KL penalty to the SFT model, "
    "moves the policy towards what the labellers prefer (e.g. positive sentiment) while the KL grows",
    expectation="on the evaluation prompts, paired prompt by prompt (seeds pooled): reproduced if the gold reward "
    "of PPO samples ends higher than the base model's by more than two standard errors and the policy's KL to "
    "the base model is clearly above zero; partial if the gold reward rises clearly without a clear KL; not "
    "reproduced otherwise",
)


class RLHFRecord(Record):
    gold_base: list[float]
    """Gold reward of the base policy's sample for each evaluation prompt."""
    gold_ppo: list[float]
    log_ratios_ppo: list[float]
    """log pi(y) − log pi_base(y) of the PPO policy's samples."""
    curve: list[tuple[int, float, float, float]]
    """(step, mean gold reward, KL, mean reward-model score of the rollouts)."""
    rm_accuracy_held_out: float
    held_out_pairs: int
    label_agreement_with_gold: float


def decide(records: Sequence[RLHFRecord]) -> Decision:
    gain = pooled_estimate(
        [mean_estimate([b - a for a, b in zip(r.gold_base, r.gold_ppo, strict=True)]) for r in records]
    )
    kl = pooled_estimate([mean_estimate(r.log_ratios_ppo) for r in records])
    mean = lambda values: round(sum(values) / len(values), 4)  # noqa: E731
    figures = {
        "gold_reward_base": mean([mean(r.gold_base) for r in records]),
        "gold_reward_ppo": mean([mean(r.gold_ppo) for r in records]),
        "gold_gain": round(gain.value, 4),
        "kl_final": round(kl.value, 3),
        "rm_accuracy_held_out": mean([r.rm_accuracy_held_out for r in records]),
    }
    reasons = [f"PPO raised the gold reward by {gain} (paired over evaluation prompts) at a KL of {kl} nats"]
    return graded(gain.clearly_above(0) and kl.clearly_above(0), gain.clearly_above(0), reasons, figures)


@experiment(
    "rlhf-pipeline",
    claim=CLAIM,
    config=RLHFPipelineConfig,
    decide=decide,
    paper_figures={
        "gold_gain": "positive (sentiment reward rises; human preference 85% over GPT-3 for InstructGPT)"
    },
    presets={
        "cpu": {},
        "gpu": dict(
            d_model=256,
            n_layers=4,
            pretrain_steps=2000,
            n_pairs=8192,
            rm_steps=1000,
            ppo_steps=600,
            prompts_per_step=128,
        ),
    },
)
def rlhf_pipeline(cfg: RLHFPipelineConfig, ctx: RunContext) -> Measurement:
    """Pre-train a toy policy, train a Bradley-Terry reward model on gold-labelled pairs, then PPO."""
    plt = pyplot()
    import copy

    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, gold_pairs, make_setup, pairwise_accuracy, train_proxy_reward_model

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    pairs, label_agreement = gold_pairs(setup, cfg.n_pairs, seed=ctx.seed + 10)
    held_out, _ = gold_pairs(setup, cfg.held_out_pairs, seed=ctx.seed + 20)

    reward_model, _ = train_proxy_reward_model(
        setup, pairs, steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
    )
    rm_accuracy = pairwise_accuracy(setup, reward_model, held_out)

    policy = copy.deepcopy(setup.base)
    base = evaluate(setup, policy, seed=ctx.seed)
    curve = [(0, base.gold_estimate.value, base.kl, float("nan"))]
    last = {}

    def on_log(step: int, record: dict[str, float]) -> None:
        point = last["point"] = evaluate(setup, policy, seed=ctx.seed)
        curve.append((step, point.gold_estimate.value, point.kl, record["score"]))
        ctx.log(
            step,
            gold=point.gold_estimate.value,
            kl=point.kl,
            proxy=record["score"],
            kl_coef=record["kl_coef"],
        )

    ppo_history = train_ppo(
        policy,
        setup.tokenizer,
        setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 30),
        [reward_model_fn(reward_model, setup.tokenizer, chat=False)],
        PPOConfig(
            prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.completion_length, kl_coef=cfg.kl_coef
        ),
        TrainConfig(steps=cfg.ppo_steps, lr=cfg.lr, log_every=cfg.eval_every, schedule="constant"),
        chat=False,
        options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=on_log),
    )

    final = last["point"]
    record = RLHFRecord(
        gold_base=base.gold, gold_ppo=final.gold, log_ratios_ppo=final.log_ratios, curve=curve,
        rm_accuracy_held_out=rm_accuracy, held_out_pairs=len(held_out), label_agreement_with_gold=label_agreement,
    )  # fmt: skip

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [s for s, *_ in curve]
    left.plot(steps, [g for _, g, _, _ in curve], marker="o", label="gold reward (eval prompts)")
    left.plot(
        [h["step"] for h in ppo_history],
        [h["score"] for h in ppo_history],
        marker="x",
        label="reward-model score (rollouts)",
    )
    left.set(xlabel="PPO step", ylabel="reward", title="Gold and proxy reward during PPO")
    left.legend()
    right.plot([k for _, _, k, _ in curve], [g for _, g, _, _ in curve], marker="o")
    right.set(
        xlabel="KL(policy || base), nats per sequence", ylabel="gold reward", title="Gold reward against KL"
    )
    figure = ctx.figure(fig, "rlhf", "PPO against a learned reward model, scored by the gold reward")

    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    ["PPO step", "gold reward", "KL (nats)", "reward-model score"],
                    [[s, round(g, 4), round(k, 3), round(q, 3)] for s, g, k, q in curve],
                ),
                Text(
                    f"The reward model ranks {rm_accuracy:.0%} of {len(held_out)} held-out gold-labelled pairs "
                    f"correctly; its training labels agree with the noise-free gold preference on "
                    f"{label_agreement:.0%} of pairs."
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task: a Markov language of {len(setup.task.words)} English words, 8 positive and 8 negative; "
                    f"gold reward = share of positive words minus share of negative ones in a {cfg.completion_length}-word "
                    "completion. Base policy: a "
                    f"{cfg.n_layers}-layer toy Llama pre-trained for {cfg.pretrain_steps} steps. {len(pairs)} pairs of base samples "
                    f"labelled by the gold reward through Bradley-Terry noise (temperature 0.1); reward model = the base trunk "
                    f"with a scalar head, {cfg.rm_steps} steps. PPO: {cfg.ppo_steps} steps of {cfg.prompts_per_step} prompts, "
                    f"2 epochs per rollout, KL coefficient {cfg.kl_coef} (k1, in the reward)."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = rlhf_pipeline
