"""overoptimization: best-of-n and PPO against proxy reward models of growing data, scored by the gold reward."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ._sentiment_config import SentimentConfig
from .registry import Outcome, RunContext, experiment


class OveroptimizationConfig(SentimentConfig):
    rm_pairs: list[int] = [128, 512, 2048]
    """Training pairs of each proxy reward model."""
    rm_steps: int = 200
    bon_prompts: int = 64
    bon_samples: int = 64
    """Samples per prompt; best-of-n is estimated for every power of two up to this, without bias."""
    ppo_steps: int = 150
    prompts_per_step: int = 32
    ppo_kl_coef: float = 0.01
    eval_every: int = 15
    n_eval_prompts: int = 128


CLAIM = Claim(
    paper="Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model Overoptimization",
    finding="with d = sqrt(KL(pi || pi_init)): best-of-n gold R(d) = d(alpha - beta d), RL gold R(d) = d(alpha - beta log d); "
    "the proxy keeps rising while the gold reward peaks and falls; more reward-model data moves the peak right",
    expectation="for some proxy, the gold reward falls after a peak while the proxy still rises, and the fitted "
    "best-of-n peak d* = alpha / (2 beta) moves right as reward-model data grows (reproduced); one of the two is partial",
)


def fit_bon(d, r):
    """Least squares for R = alpha d - beta d^2 (no intercept): returns (alpha, beta)."""
    import numpy as np

    coef, *_ = np.linalg.lstsq(np.stack([d, -(d**2)], axis=1), r, rcond=None)
    return float(coef[0]), float(coef[1])


def fit_rl(d, r):
    """Least squares for R = alpha d - beta d log d, on d > 0: returns (alpha, beta)."""
    import numpy as np

    keep = d > 0
    coef, *_ = np.linalg.lstsq(np.stack([d[keep], -d[keep] * np.log(d[keep])], axis=1), r[keep], rcond=None)
    return float(coef[0]), float(coef[1])


@experiment(
    "overoptimization",
    claim=CLAIM,
    config=OveroptimizationConfig,
    presets={
        "cpu": {},
        "gpu": dict(
            d_model=256,
            n_layers=4,
            pretrain_steps=2000,
            rm_pairs=[512, 2048, 8192, 32768],
            rm_steps=1000,
            bon_prompts=256,
            bon_samples=256,
            ppo_steps=500,
            prompts_per_step=128,
        ),
    },
)
def overoptimization(cfg: OveroptimizationConfig, ctx: RunContext) -> Outcome:
    """Proxy RMs from 128-2048 gold-labelled pairs; best-of-n and PPO against each; gold and proxy against d."""
    plt = pyplot()
    import copy
    import math

    import numpy as np

    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import evaluate, gold_pairs, make_setup, sample, train_proxy_reward_model

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    all_pairs, _ = gold_pairs(setup, max(cfg.rm_pairs), seed=ctx.seed + 10)

    # best-of-n candidates: bon_samples completions for each prompt, from the base model
    prompts = setup.task.prompts(cfg.bon_prompts, seed=ctx.seed + 40)
    repeated = [p for p in prompts for _ in range(cfg.bon_samples)]
    candidates = sample(setup, setup.base, repeated, seed=ctx.seed + 41)
    gold = np.array([setup.task.gold_reward(c) for c in candidates]).reshape(cfg.bon_prompts, cfg.bon_samples)
    ns = [2**k for k in range(int(math.log2(cfg.bon_samples)) + 1)]

    def best_of_n(proxy: np.ndarray, n: int) -> tuple[float, float]:
        """Expected gold and proxy of the proxy-best of n draws without replacement (order statistics):
        the candidate of proxy rank i (1 = lowest) wins with probability C(i-1, n-1) / C(N, n)."""
        N = proxy.shape[1]
        weights = np.array([math.comb(i - 1, n - 1) for i in range(1, N + 1)], dtype=float) / math.comb(N, n)
        order = np.argsort(proxy, axis=1, kind="stable")
        g = np.take_along_axis(gold, order, axis=1) @ weights
        p = np.take_along_axis(proxy, order, axis=1) @ weights
        return float(g.mean()), float(p.mean())

    d_bon = np.array([math.sqrt(math.log(n) - (n - 1) / n) for n in ns])
    results: dict[int, dict] = {}
    ppo_prompts = setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 30)
    for size in ctx.progress(cfg.rm_pairs, "reward-model sizes", total=len(cfg.rm_pairs)):
        reward_model, _ = train_proxy_reward_model(
            setup, all_pairs[:size], steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
        )
        proxy_fn = reward_model_fn(reward_model, setup.tokenizer, chat=False)
        proxy = np.array(proxy_fn(repeated, candidates)).reshape(cfg.bon_prompts, cfg.bon_samples)
        bon = [best_of_n(proxy, n) for n in ns]
        bon_gold = np.array([g for g, _ in bon]) - bon[0][0]
        bon_proxy = np.array([p for _, p in bon]) - bon[0][1]

        policy = copy.deepcopy(setup.base)

        def measure(policy=policy, proxy_fn=proxy_fn) -> tuple[dict[str, float], float]:
            texts = sample(setup, policy, setup.eval_prompts, seed=ctx.seed)
            gold_and_kl = evaluate(setup, policy, seed=ctx.seed, completions=texts)
            return gold_and_kl, float(np.mean(proxy_fn(setup.eval_prompts, texts)))

        curve = [(0, *measure())]

        def on_log(step, record, curve=curve, size=size, measure=measure):
            curve.append((step, *measure()))
            ctx.log(step, rm_pairs=size, gold=curve[-1][1]["gold"], proxy=curve[-1][2], kl=curve[-1][1]["kl"])

        train_ppo(
            policy,
            setup.tokenizer,
            ppo_prompts,
            [proxy_fn],
            PPOConfig(
                prompts_per_step=cfg.prompts_per_step,
                max_new_tokens=cfg.completion_length,
                kl_coef=cfg.ppo_kl_coef,
            ),
            TrainConfig(steps=cfg.ppo_steps, lr=3e-4, log_every=cfg.eval_every, schedule="constant"),
            chat=False,
            options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=on_log),
        )
        d_rl = np.array([math.sqrt(max(p["kl"], 0.0)) for _, p, _ in curve])
        rl_gold = np.array([p["gold"] for _, p, _ in curve]) - curve[0][1]["gold"]
        rl_proxy = np.array([q for _, _, q in curve]) - curve[0][2]
        a_bon, b_bon = fit_bon(d_bon, bon_gold)
        a_rl, b_rl = fit_rl(d_rl, rl_gold)
        results[size] = dict(
            bon_gold=bon_gold, bon_proxy=bon_proxy, d_rl=d_rl, rl_gold=rl_gold, rl_proxy=rl_proxy,
            alpha_bon=a_bon, beta_bon=b_bon, peak_bon=a_bon / (2 * b_bon) if b_bon > 0 else float("inf"),
            alpha_rl=a_rl, beta_rl=b_rl, peak_rl=math.exp(a_rl / b_rl - 1) if b_rl > 0 else float("inf"),
        )  # fmt: skip

    def overoptimized(gold_curve, proxy_curve) -> bool:
        peak = int(np.argmax(gold_curve))
        return (
            peak < len(gold_curve) - 1
            and gold_curve[-1] < gold_curve[peak]
            and proxy_curve[-1] > proxy_curve[peak]
        )

    seen = {
        s: overoptimized(r["bon_gold"], r["bon_proxy"]) or overoptimized(r["rl_gold"], r["rl_proxy"])
        for s, r in results.items()
    }
    peaks = [results[s]["peak_bon"] for s in cfg.rm_pairs]
    peaks_move_right = all(b >= a for a, b in zip(peaks, peaks[1:], strict=False))
    verdict = (
        "reproduced"
        if any(seen.values()) and peaks_move_right
        else "partial"
        if any(seen.values()) or peaks_move_right
        else "not_reproduced"
    )

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    proxy_axes = [ax.twinx() for ax in axes]  # the proxy is in reward-model units, the gold in [-1, 1]
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(cfg.rm_pairs)))
    for color, size in zip(colors, cfg.rm_pairs, strict=True):
        r = results[size]
        fine = np.linspace(0, d_bon.max(), 50)
        axes[0].plot(d_bon, r["bon_gold"], "o-", color=color, label=f"gold, RM on {size} pairs")
        axes[0].plot(fine, fine * (r["alpha_bon"] - r["beta_bon"] * fine), "--", color=color, linewidth=0.8)
        proxy_axes[0].plot(d_bon, r["bon_proxy"], "x:", color=color, alpha=0.6)
        axes[1].plot(r["d_rl"], r["rl_gold"], "o-", color=color, label=f"gold, RM on {size} pairs")
        proxy_axes[1].plot(r["d_rl"], r["rl_proxy"], "x:", color=color, alpha=0.6)
    for ax, proxy_ax, title in zip(axes, proxy_axes, ("Best-of-n (dashed: fit)", "PPO"), strict=True):
        ax.set(xlabel="d = sqrt(KL)", ylabel="gold reward gain (solid)", title=title)
        proxy_ax.set_ylabel("proxy reward gain (dotted)")
    axes[0].legend(fontsize=7)
    figure = ctx.figure(
        fig, "overoptimization", "Gold (solid) and proxy (dotted) reward against d = sqrt(KL)"
    )

    measured = {}
    for size in cfg.rm_pairs:
        r = results[size]
        measured |= {
            f"alpha_bon_{size}": round(r["alpha_bon"], 4), f"beta_bon_{size}": round(r["beta_bon"], 4),
            f"peak_d_bon_{size}": round(r["peak_bon"], 3), f"alpha_rl_{size}": round(r["alpha_rl"], 4),
            f"beta_rl_{size}": round(r["beta_rl"], 4), f"overoptimized_{size}": seen[size],
        }  # fmt: skip
    summary = (
        f"gold fell after a peak while the proxy rose for RM sizes {[s for s in cfg.rm_pairs if seen[s]] or 'none'}; "
        f"fitted best-of-n gold peaks d* = {[round(p, 2) for p in peaks]} for {cfg.rm_pairs} pairs"
        f"{' (moving right)' if peaks_move_right else ' (not moving right)'}"
    )
    rows = [
        [size, round(results[size]["alpha_bon"], 4), round(results[size]["beta_bon"], 4), round(results[size]["peak_bon"], 2),
         round(results[size]["alpha_rl"], 4), round(results[size]["beta_rl"], 4), "yes" if seen[size] else "no"]
        for size in cfg.rm_pairs
    ]  # fmt: skip
    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    [
                        "RM pairs",
                        "alpha BoN",
                        "beta BoN",
                        "BoN peak d*",
                        "alpha RL",
                        "beta RL",
                        "gold fell after a peak",
                    ],
                    rows,
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task (see rlhf-pipeline). Proxy reward models trained on {cfg.rm_pairs} gold-labelled pairs. "
                    f"Best-of-n: {cfg.bon_samples} base samples for each of {cfg.bon_prompts} prompts, the expected best-of-n computed "
                    f"exactly from order statistics, KL = log n - (n-1)/n. RL: PPO against each proxy ({cfg.ppo_steps} steps, KL "
                    f"coefficient {cfg.ppo_kl_coef}), gold and proxy measured on {cfg.n_eval_prompts} held-out prompts. Rewards are "
                    "gains over the base model; fits are least squares without intercept."
                )
            ],
        ),
    ]
    paper = {
        "functional forms": "BoN: d(alpha - beta d); RL: d(alpha - beta log d)",
        "peak": "moves right with more RM data",
    }
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = overoptimization
