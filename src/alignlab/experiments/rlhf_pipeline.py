"""rlhf-pipeline: base model -> reward model on gold-labelled pairs -> PPO, with the gold reward tracked."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ._sentiment_config import SentimentConfig
from .registry import Outcome, RunContext, experiment


class RLHFPipelineConfig(SentimentConfig):
    n_pairs: int = 1024
    """Preference pairs (two base-model samples per prompt, labelled by the gold reward)."""
    rm_steps: int = 200
    ppo_steps: int = 150
    prompts_per_step: int = 32
    kl_coef: float = 0.05
    lr: float = 3e-4
    eval_every: int = 25


CLAIM = Claim(
    paper="Ziegler et al. 2019, Fine-Tuning Language Models from Human Preferences; Ouyang et al. 2022 (InstructGPT)",
    finding="a reward model trained on human comparisons, optimised with PPO under a KL penalty to the SFT model, "
    "moves the policy towards what the labellers prefer (e.g. positive sentiment) while the KL grows",
    expectation="the gold reward of PPO samples ends higher than the base model's by more than 3 standard errors, "
    "and the KL to the base model grows (reproduced)",
)


@experiment(
    "rlhf-pipeline",
    claim=CLAIM,
    config=RLHFPipelineConfig,
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
def rlhf_pipeline(cfg: RLHFPipelineConfig, ctx: RunContext) -> Outcome:
    """Pre-train a toy policy, train a Bradley-Terry reward model on gold-labelled pairs, then PPO."""
    plt = pyplot()
    import copy

    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, gold_pairs, make_setup, pairwise_accuracy, train_proxy_reward_model

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    pairs, label_agreement = gold_pairs(setup, cfg.n_pairs, seed=ctx.seed + 10)
    held_out, _ = gold_pairs(setup, 256, seed=ctx.seed + 20)

    reward_model, rm_history = train_proxy_reward_model(
        setup, pairs, steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
    )
    rm_accuracy = pairwise_accuracy(setup, reward_model, held_out)

    policy = copy.deepcopy(setup.base)
    curve = [(0, evaluate(setup, policy, seed=ctx.seed))]

    def on_log(step: int, record: dict[str, float]) -> None:
        point = evaluate(setup, policy, seed=ctx.seed)
        curve.append((step, point))
        ctx.log(step, gold=point["gold"], kl=point["kl"], proxy=record["score"], kl_coef=record["kl_coef"])

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

    start, end = curve[0][1], curve[-1][1]
    gain = end["gold"] - start["gold"]
    sem = (start["gold_sem"] ** 2 + end["gold_sem"] ** 2) ** 0.5
    verdict = (
        "reproduced"
        if gain > 3 * sem and end["kl"] > start["kl"]
        else "partial"
        if gain > 0
        else "not_reproduced"
    )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [s for s, _ in curve]
    left.plot(steps, [p["gold"] for _, p in curve], marker="o", label="gold reward (eval prompts)")
    left.plot(
        [h["step"] for h in ppo_history],
        [h["score"] for h in ppo_history],
        marker="x",
        label="reward-model score (rollouts)",
    )
    left.set(xlabel="PPO step", ylabel="reward", title="Gold and proxy reward during PPO")
    left.legend()
    right.plot([p["kl"] for _, p in curve], [p["gold"] for _, p in curve], marker="o")
    right.set(
        xlabel="KL(policy || base), nats per sequence", ylabel="gold reward", title="Gold reward against KL"
    )
    figure = ctx.figure(fig, "rlhf", "PPO against a learned reward model, scored by the gold reward")

    measured = {
        "gold_reward_base": round(start["gold"], 4),
        "gold_reward_ppo": round(end["gold"], 4),
        "gold_gain": round(gain, 4),
        "gold_gain_sem": round(sem, 4),
        "kl_final": round(end["kl"], 3),
        "rm_accuracy_held_out": round(rm_accuracy, 3),
        "label_agreement_with_gold": round(label_agreement, 3),
        "rm_final_loss": round(rm_history[-1]["loss"], 4),
    }
    summary = (
        f"the reward model ranks {rm_accuracy:.0%} of held-out gold-labelled pairs correctly; PPO raised the gold reward "
        f"{start['gold']:.3f} -> {end['gold']:.3f} ({gain / max(sem, 1e-9):.1f} standard errors) at a KL of {end['kl']:.2f} nats"
    )
    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    ["PPO step", "gold reward", "± s.e.", "KL (nats)"],
                    [[s, round(p["gold"], 4), round(p["gold_sem"], 4), round(p["kl"], 3)] for s, p in curve],
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task: a Markov language of {len(setup.task.words)} words, 8 'good' and 8 'bad'; gold reward = "
                    f"share of good words minus share of bad ones in a {cfg.completion_length}-word completion. Base policy: a "
                    f"{cfg.n_layers}-layer toy Llama pre-trained for {cfg.pretrain_steps} steps. {len(pairs)} pairs of base samples "
                    f"labelled by the gold reward through Bradley-Terry noise (temperature 0.1); reward model = the base trunk "
                    f"with a scalar head, {cfg.rm_steps} steps. PPO: {cfg.ppo_steps} steps of {cfg.prompts_per_step} prompts, "
                    f"2 epochs per rollout, KL coefficient {cfg.kl_coef} (k1, in the reward)."
                )
            ],
        ),
    ]
    paper = {
        "gold_gain": "positive (sentiment reward rises; human preference 85% over GPT-3 for InstructGPT)"
    }
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = rlhf_pipeline
