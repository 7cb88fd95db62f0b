"""dpo-frontier: the reward/KL frontier of DPO (several beta) against PPO (several KL coefficients)."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ._sentiment_config import SentimentConfig
from .registry import Outcome, RunContext, experiment


class DPOFrontierConfig(SentimentConfig):
    n_pairs: int = 1024
    dpo_betas: list[float] = [0.05, 0.1, 0.3, 1.0]
    dpo_steps: int = 100
    ppo_kl_coefs: list[float] = [0.02, 0.05, 0.1, 0.2]
    ppo_steps: int = 100
    prompts_per_step: int = 32
    rm_steps: int = 200


CLAIM = Claim(
    paper="Rafailov et al. 2023, Direct Preference Optimization",
    finding="on IMDb controlled sentiment, DPO's reward/KL frontier dominates PPO's: reward ~0.9 at KL ~2.5 for "
    "DPO vs ~0.53 at KL ~2 for PPO (read off the figure)",
    expectation="at most PPO points, some DPO point reaches at least the same gold reward at no more KL "
    "(reproduced); at some but not most is partial",
)


@experiment(
    "dpo-frontier",
    claim=CLAIM,
    config=DPOFrontierConfig,
    presets={
        "cpu": {},
        "gpu": dict(
            d_model=256,
            n_layers=4,
            pretrain_steps=2000,
            n_pairs=8192,
            dpo_steps=500,
            ppo_steps=500,
            prompts_per_step=128,
            rm_steps=1000,
        ),
    },
)
def dpo_frontier(cfg: DPOFrontierConfig, ctx: RunContext) -> Outcome:
    """DPO at several beta and PPO (on a reward model from the same pairs) at several KL coefficients."""
    plt = pyplot()
    import copy

    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.preference import DPOConfig, train_dpo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, gold_pairs, make_setup, train_proxy_reward_model

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    pairs, _ = gold_pairs(setup, cfg.n_pairs, seed=ctx.seed + 10)
    points: dict[str, list[tuple[float, dict[str, float]]]] = {"DPO": [], "PPO": []}
    jobs = [("DPO", b) for b in cfg.dpo_betas] + [("PPO", c) for c in cfg.ppo_kl_coefs]

    reward_model, _ = train_proxy_reward_model(
        setup, pairs, steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
    )
    reward = reward_model_fn(reward_model, setup.tokenizer, chat=False)
    ppo_prompts = setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 30)

    for method, knob in ctx.progress(jobs, "DPO and PPO runs", total=len(jobs)):
        policy = copy.deepcopy(setup.base)
        if method == "DPO":
            train_dpo(
                policy,
                setup.tokenizer,
                pairs,
                DPOConfig(beta=knob, batch_size=32),
                TrainConfig(steps=cfg.dpo_steps, lr=1e-3, log_every=cfg.dpo_steps),
                chat=False,
                options=RunOptions(seed=ctx.seed, device=ctx.device),
            )
        else:
            train_ppo(
                policy,
                setup.tokenizer,
                ppo_prompts,
                [reward],
                PPOConfig(
                    prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.completion_length, kl_coef=knob
                ),
                TrainConfig(steps=cfg.ppo_steps, lr=3e-4, log_every=cfg.ppo_steps, schedule="constant"),
                chat=False,
                options=RunOptions(seed=ctx.seed, device=ctx.device),
            )
        result = evaluate(setup, policy, seed=ctx.seed)
        points[method].append((knob, result))
        ctx.log(len(points["DPO"]) + len(points["PPO"]), method=method, knob=knob, **result)

    def dominated(ppo_point: dict[str, float]) -> bool:
        return any(d["kl"] <= ppo_point["kl"] and d["gold"] >= ppo_point["gold"] for _, d in points["DPO"])

    n_dominated = sum(dominated(p) for _, p in points["PPO"])
    share = n_dominated / len(points["PPO"])
    verdict = "reproduced" if share > 0.5 else "partial" if n_dominated else "not_reproduced"

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, marker in (("DPO", "o"), ("PPO", "s")):
        xs = [p["kl"] for _, p in points[method]]
        ys = [p["gold"] for _, p in points[method]]
        ax.scatter(xs, ys, marker=marker, s=50, label=method)
        for knob, p in points[method]:
            ax.annotate(
                f"{'β' if method == 'DPO' else 'kl'}={knob:g}",
                (p["kl"], p["gold"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set(xlabel="KL(policy || base), nats per sequence", ylabel="gold reward", title="Reward / KL frontier")
    ax.legend()
    figure = ctx.figure(fig, "frontier", "Each point is one trained policy, scored on held-out prompts")

    best = {m: max(points[m], key=lambda kp: kp[1]["gold"]) for m in points}
    measured = {
        "ppo_points_dominated_by_dpo": f"{n_dominated}/{len(points['PPO'])}",
        "best_dpo_gold": round(best["DPO"][1]["gold"], 4),
        "best_dpo_kl": round(best["DPO"][1]["kl"], 3),
        "best_ppo_gold": round(best["PPO"][1]["gold"], 4),
        "best_ppo_kl": round(best["PPO"][1]["kl"], 3),
    }
    summary = (
        f"{n_dominated} of {len(points['PPO'])} PPO policies are matched or beaten by a DPO policy at no more KL; best DPO "
        f"gold {measured['best_dpo_gold']:.3f} at KL {measured['best_dpo_kl']:.2f}, best PPO {measured['best_ppo_gold']:.3f} "
        f"at KL {measured['best_ppo_kl']:.2f}"
    )
    table = Table(
        ["method", "beta / KL coef", "gold reward", "KL (nats)"],
        [[m, k, round(p["gold"], 4), round(p["kl"], 3)] for m in points for k, p in points[m]],
    )
    sections = [
        Section("Results", [figure, table]),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task (see rlhf-pipeline); both methods see the same {len(pairs)} gold-labelled pairs: DPO "
                    f"directly ({cfg.dpo_steps} steps), PPO through a reward model trained on them ({cfg.ppo_steps} steps of "
                    f"{cfg.prompts_per_step} prompts). KL is estimated on each policy's own samples."
                )
            ],
        ),
    ]
    paper = {
        "best_dpo_gold": "~0.9 at KL ~2.5",
        "best_ppo_gold": "~0.53 at KL ~2 (IMDb sentiment classifier reward)",
    }
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = dpo_frontier
