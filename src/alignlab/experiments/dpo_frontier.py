"""dpo-frontier: the reward/KL frontier of DPO (several beta) against PPO (several KL coefficients), each
trained on the same preference pairs and evaluated every few steps, compared as upper envelopes."""

from collections.abc import Sequence

from ..config import Count, LearningRate, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, pooled_estimate
from ._sentiment_config import SentimentConfig
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, not_applicable


class DPOFrontierConfig(SentimentConfig):
    n_pairs: Count = 1024
    dpo_betas: list[PositiveFloat] = [0.05, 0.1, 0.3, 1.0]
    dpo_steps: Count = 100
    dpo_lr: LearningRate = 1e-3
    dpo_batch_size: Count = 32
    ppo_kl_coefs: list[PositiveFloat] = [0.02, 0.05, 0.1, 0.2]
    ppo_steps: Count = 100
    ppo_lr: LearningRate = 3e-4
    prompts_per_step: Count = 32
    rm_steps: Count = 200
    eval_every: Count = 25
    """Every run contributes a frontier point at each of these steps (and the base model at step 0)."""
    noisy_dpo_betas: list[PositiveFloat] = [0.1, 1.0]
    noisy_ppo_kl_coefs: list[PositiveFloat] = [0.05, 0.2]
    """The second comparison, on noisy labels (Bradley-Terry noise, ties decided by a coin): fewer runs, to
    stay inside the CPU budget. Reported, not scored."""
    grid_points: Count = 20
    bootstrap_resamples: Count = 500


CLAIM = Claim(
    paper="Rafailov et al. 2023, Direct Preference Optimization",
    finding="on IMDb controlled sentiment, DPO's reward/KL frontier dominates PPO's: reward ~0.9 at KL ~2.5 for "
    "DPO vs ~0.53 at KL ~2 for PPO (read off the figure)",
    expectation="both methods learn from the same noise-free labels (ties dropped), as in the paper; every run "
    "is evaluated every few steps, and each method's frontier is the upper envelope of its points (the best "
    "gold reward at no more than a given KL). Reproduced if DPO's envelope lies above PPO's on average over "
    "the KL range both reach by more than two bootstrap standard errors (prompts resampled), not reproduced "
    "otherwise; not applicable if the ranges do not overlap. The same comparison on noisy labels is reported",
)


class FrontierPoint(Record):
    method: str
    """DPO or PPO."""
    labels: str
    """clean or noisy."""
    knob: float
    """beta (DPO) or the KL coefficient (PPO)."""
    step: int
    kl: float
    gold: list[float]
    """Gold reward of the policy's sample for each evaluation prompt."""


class DPOFrontierRecord(Record):
    points: list[FrontierPoint]
    label_agreement: dict[str, float]
    grid_points: int
    bootstrap_resamples: int


def envelope_gap(
    points: Sequence[FrontierPoint], labels: str, grid_points: int, weights=None
) -> float | None:
    """Mean over an even grid of the common KL range of (DPO's envelope − PPO's envelope); None if the two
    methods' KL ranges do not overlap. ``weights`` (n_prompts,) reweights prompts (for the bootstrap)."""
    import numpy as np

    by_method = {m: [p for p in points if p.labels == labels and p.method == m] for m in ("DPO", "PPO")}
    if not all(by_method.values()):
        return None
    low = max(min(p.kl for p in ps) for ps in by_method.values())
    high = min(max(p.kl for p in ps) for ps in by_method.values())
    if high < low:
        return None
    grid = np.linspace(low, high, grid_points)

    def value(p: FrontierPoint) -> float:
        gold = np.asarray(p.gold)
        return float(gold.mean() if weights is None else (gold * weights).sum() / weights.sum())

    def envelope(ps: Sequence[FrontierPoint]) -> np.ndarray:
        kls, golds = np.array([p.kl for p in ps]), np.array([value(p) for p in ps])
        return np.array([golds[kls <= x].max() for x in grid])

    return float((envelope(by_method["DPO"]) - envelope(by_method["PPO"])).mean())


def gap_estimate(record: DPOFrontierRecord, labels: str) -> Estimate | None:
    """The envelope gap with a bootstrap standard error over evaluation prompts (resampled jointly for every
    point, so the comparison stays paired)."""
    import numpy as np

    gap = envelope_gap(record.points, labels, record.grid_points)
    if gap is None:
        return None
    n = len(record.points[0].gold)
    rng = np.random.default_rng(0)
    draws = [
        envelope_gap(
            record.points, labels, record.grid_points, np.bincount(rng.integers(0, n, n), minlength=n)
        )
        for _ in range(record.bootstrap_resamples)
    ]
    return Estimate(gap, float(np.std(draws)), n)


def decide(records: Sequence[DPOFrontierRecord]) -> Decision:
    gaps = {labels: [gap_estimate(r, labels) for r in records] for labels in ("clean", "noisy")}
    figures = {}
    for labels in ("clean", "noisy"):
        if all(g is not None for g in gaps[labels]):
            figures[f"dpo_minus_ppo_envelope_{labels}_labels"] = round(pooled_estimate(gaps[labels]).value, 4)
    for method in ("DPO", "PPO"):
        mine = [[p for p in r.points if p.method == method and p.labels == "clean"] for r in records]
        if all(mine):
            best = [max(points, key=lambda p: sum(p.gold)) for points in mine]
            figures[f"best_{method.lower()}_gold"] = round(
                sum(sum(p.gold) / len(p.gold) for p in best) / len(best), 4
            )
            figures[f"best_{method.lower()}_kl"] = round(sum(p.kl for p in best) / len(best), 3)
    if any(g is None for g in gaps["clean"]):
        return not_applicable(
            "DPO's and PPO's KL ranges do not overlap: there is no common range to compare", figures
        )
    clean = pooled_estimate(gaps["clean"])
    reasons = [f"clean labels: DPO's envelope minus PPO's over the common KL range {clean}"]
    if all(g is not None for g in gaps["noisy"]):
        reasons.append(f"noisy labels (reported): {pooled_estimate(gaps['noisy'])}")
    if clean.clearly_above(0):
        return Decision("reproduced", tuple(reasons), figures)
    if clean.clearly_below(0):
        reasons.append("PPO's frontier is clearly higher here")
    return Decision("not_reproduced", tuple(reasons), figures)


@experiment(
    "dpo-frontier",
    claim=CLAIM,
    config=DPOFrontierConfig,
    decide=decide,
    paper_figures={
        "best_dpo_gold": "~0.9 at KL ~2.5",
        "best_ppo_gold": "~0.53 at KL ~2 (IMDb sentiment classifier reward)",
        "dpo_minus_ppo_envelope_clean_labels": "positive (DPO dominates)",
    },
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, pretrain_steps=2000, n_pairs=8192, dpo_steps=500, ppo_steps=500,
                    prompts_per_step=128, rm_steps=1000, eval_every=50),
    },
)  # fmt: skip
def dpo_frontier(cfg: DPOFrontierConfig, ctx: RunContext) -> Measurement:
    """DPO at several beta and PPO (on a reward model from the same pairs) at several KL coefficients."""
    plt = pyplot()
    import copy

    from ..losses import pairwise_loss
    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.preference import train_dpo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, gold_pairs, make_setup, train_proxy_reward_model

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    base = evaluate(setup, setup.base, seed=ctx.seed)
    points: list[FrontierPoint] = []
    agreement = {}
    ppo_prompts = setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 30)
    for labels, betas, coefs, temperature in (
        ("clean", cfg.dpo_betas, cfg.ppo_kl_coefs, 0.0),
        ("noisy", cfg.noisy_dpo_betas, cfg.noisy_ppo_kl_coefs, 0.1),
    ):
        pairs, agreement[labels] = gold_pairs(
            setup, cfg.n_pairs, bt_temperature=temperature, drop_ties=labels == "clean", seed=ctx.seed + 10
        )
        reward_model, _ = train_proxy_reward_model(
            setup, pairs, steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
        )
        reward = reward_model_fn(reward_model, setup.tokenizer, chat=False)
        jobs = [("DPO", b) for b in betas] + [("PPO", c) for c in coefs]
        for method, knob in ctx.progress(jobs, f"{labels}-label runs", total=len(jobs)):
            points.append(
                FrontierPoint(method=method, labels=labels, knob=knob, step=0, kl=0.0, gold=base.gold)
            )
            policy = copy.deepcopy(setup.base)

            def on_log(step, record, policy=policy, method=method, knob=knob, labels=labels):
                result = evaluate(setup, policy, seed=ctx.seed)
                points.append(
                    FrontierPoint(
                        method=method, labels=labels, knob=knob, step=step, kl=result.kl, gold=result.gold
                    )
                )
                ctx.log(
                    step,
                    method=method,
                    labels=labels,
                    knob=knob,
                    gold=result.gold_estimate.value,
                    kl=result.kl,
                )

            options = RunOptions(seed=ctx.seed, device=ctx.device, on_log=on_log)
            if method == "DPO":
                train_dpo(
                    policy, setup.tokenizer, pairs, pairwise_loss("sigmoid", beta=knob),
                    TrainConfig(steps=cfg.dpo_steps, lr=cfg.dpo_lr, log_every=cfg.eval_every),
                    batch_size=cfg.dpo_batch_size, chat=False, options=options,
                )  # fmt: skip
            else:
                train_ppo(
                    policy, setup.tokenizer, ppo_prompts, [reward],
                    PPOConfig(prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.completion_length, kl_coef=knob),
                    TrainConfig(steps=cfg.ppo_steps, lr=cfg.ppo_lr, log_every=cfg.eval_every, schedule="constant"),
                    chat=False, options=options,
                )  # fmt: skip
    record = DPOFrontierRecord(
        points=points,
        label_agreement=agreement,
        grid_points=cfg.grid_points,
        bootstrap_resamples=cfg.bootstrap_resamples,
    )

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, labels in zip(axes, ("clean", "noisy"), strict=True):
        for method, marker, color in (("DPO", "o", "tab:blue"), ("PPO", "s", "tab:orange")):
            mine = sorted(
                (p for p in points if p.labels == labels and p.method == method), key=lambda p: p.kl
            )
            ax.scatter([p.kl for p in mine], [sum(p.gold) / len(p.gold) for p in mine], marker=marker, s=18,
                       color=color, alpha=0.6, label=f"{method} checkpoints")  # fmt: skip
            best, xs, ys = float("-inf"), [], []
            for p in mine:
                best = max(best, sum(p.gold) / len(p.gold))
                xs.append(p.kl)
                ys.append(best)
            ax.step(xs, ys, where="post", color=color, label=f"{method} envelope")
        ax.set(
            xlabel="KL(policy ‖ base), nats per sequence",
            title=f"{labels} labels ({agreement[labels]:.0%} agree with gold)",
        )
        ax.legend(fontsize=7)
    axes[0].set_ylabel("gold reward")
    figure = ctx.figure(fig, "frontier", "Every checkpoint of every run, and each method's upper envelope")
    table = Table(
        ["labels", "method", "beta / KL coef", "step", "gold reward", "KL (nats)"],
        [[p.labels, p.method, p.knob, p.step, round(sum(p.gold) / len(p.gold), 4), round(p.kl, 3)] for p in points if p.step],
    )  # fmt: skip
    sections = [
        Section("Results", [figure, table]),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task (see rlhf-pipeline); DPO and PPO see the same {cfg.n_pairs} pairs of base samples: "
                    f"DPO directly ({cfg.dpo_steps} steps, betas {cfg.dpo_betas}), PPO through a reward model trained on "
                    f"them ({cfg.ppo_steps} steps of {cfg.prompts_per_step} prompts, KL coefficients {cfg.ppo_kl_coefs}). "
                    "Clean labels follow the gold reward exactly and drop ties, as the paper's sentiment classifier "
                    "labels did; noisy labels add Bradley-Terry noise (temperature 0.1) and decide ties by a coin. "
                    f"Every run is evaluated every {cfg.eval_every} steps; KL is estimated on each policy's own samples."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = dpo_frontier
