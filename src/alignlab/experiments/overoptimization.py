"""overoptimization: best-of-n and PPO against proxy reward models of growing data, scored by a gold reward
with a second term that the proxies can miss."""

from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count, LearningRate, NonNegativeFloat, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, mean_estimate, pooled_estimate
from ._sentiment_config import SentimentConfig, increasing_sizes
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

METHODS = ("bon", "rl")


class OveroptimizationConfig(SentimentConfig):
    repetition_penalty: PositiveFloat = 1.0
    """The gold reward is sentiment minus this times the share of repeated words: reward models trained on a
    few base-model pairs learn the sentiment and may miss the penalty, which a policy pushed hard exploits."""
    rm_pairs: list[Count] = [128, 512, 2048]
    """Training pairs of each proxy reward model."""
    rm_steps: Count = 200
    bon_prompts: Count = 24
    bon_samples: Count = 1024
    """Samples per prompt; best-of-n is computed exactly for every power of two up to this."""
    ppo_steps: Count = 150
    prompts_per_step: Count = 32
    ppo_lr: LearningRate = 3e-4
    ppo_kl_coef: NonNegativeFloat = 0.0
    """No KL penalty: the policy is free to chase the proxy as far as it goes."""
    eval_every: Count = 25
    n_eval_prompts: Count = 128

    @field_validator("rm_pairs")
    @classmethod
    def _growing(cls, sizes: list[int]) -> list[int]:
        return increasing_sizes(sizes, "rm_pairs", "sizes")


CLAIM = Claim(
    paper="Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model Overoptimization",
    finding="with d = sqrt(KL(pi || pi_init)): best-of-n gold R(d) = d(alpha - beta d), RL gold R(d) = d(alpha - beta log d); "
    "the proxy keeps rising while the gold reward peaks and falls; more reward-model data moves the peak right",
    expectation="(i) for some proxy and method, the gold reward falls after a peak inside the measured range "
    "(the last point below the peak by more than two standard errors, paired over prompts) while the proxy "
    "rises past the peak by more than two; (ii) with the most reward-model data the gold peaks further right "
    "(at larger d, or not at all inside the range) than with the least data that shows (i). Reproduced if "
    "both, partial if (i) only. Fitted forms are reported, not scored",
)


class Curve(Record):
    d: list[float]
    gold: list[list[float]]
    """Per point of the curve, the gold reward per prompt (best-of-n: expected over draws)."""
    proxy: list[list[float]]


class OveroptimizationRecord(Record):
    rm_pairs: list[int]
    curves: dict[str, dict[str, Curve]]
    """Method (bon, rl) -> reward-model pairs -> the curve."""
    rm_accuracy: dict[str, float]
    """Reward-model pairs -> held-out pairwise accuracy against the gold reward."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _diff(curve: Curve, a: int, b: int, key: str) -> Estimate:
    """Paired over prompts: value at point a minus value at point b."""
    series = getattr(curve, key)
    return mean_estimate([x - y for x, y in zip(series[a], series[b], strict=True)])


def peak(curves: Sequence[Curve]) -> dict:
    """The gold peak of one method and reward model over seeds: where it is, and whether the gold clearly
    falls after it while the proxy clearly rises."""
    means = [_mean([_mean(c.gold[i]) for c in curves]) for i in range(len(curves[0].d))]
    top, last = max(range(len(means)), key=means.__getitem__), len(means) - 1
    d_peak = _mean([c.d[top] for c in curves])
    if top == last:
        return {"d": d_peak, "inside": False, "fall": None, "rise": None}
    fall = pooled_estimate([_diff(c, top, last, "gold") for c in curves])
    rise = pooled_estimate([_diff(c, last, top, "proxy") for c in curves])
    return {
        "d": d_peak,
        "inside": fall.clearly_above(0) and rise.clearly_above(0),
        "fall": fall,
        "rise": rise,
    }


def decide(records: Sequence[OveroptimizationRecord]) -> Decision:
    sizes = [str(s) for s in records[0].rm_pairs]
    peaks = {(m, s): peak([r.curves[m][s] for r in records]) for m in METHODS for s in sizes}
    figures, reasons = {}, []
    overoptimized, moves_right = False, False
    for method in METHODS:
        for size in sizes:
            p = peaks[method, size]
            at_end = p["fall"] is None  # still rising at the last point: the peak lies beyond the range
            figures[f"peak_d_{method}_{size}"] = f"> {p['d']:.3f}" if at_end else round(p["d"], 3)
            figures[f"overoptimized_{method}_{size}"] = p["inside"]
        shown = [s for s in sizes if peaks[method, s]["inside"]]
        overoptimized |= bool(shown)
        if shown:
            first, largest = peaks[method, shown[0]], peaks[method, sizes[-1]]
            right = largest["d"] > first["d"] or not largest["inside"]
            moves_right |= shown[0] != sizes[-1] and right
            reasons.append(
                f"{method}: gold falls after its peak while the proxy rises for RMs on {shown} pairs; with "
                f"{sizes[-1]} pairs the peak is at d = {largest['d']:.2f} vs {first['d']:.2f} with {shown[0]} "
                f"({'further right' if right and shown[0] != sizes[-1] else 'not further right'})"
            )
        else:
            reasons.append(f"{method}: no clear fall of the gold reward inside the measured range for any RM")
    return graded(overoptimized and moves_right, overoptimized, reasons, figures)


@experiment(
    "overoptimization",
    claim=CLAIM,
    config=OveroptimizationConfig,
    decide=decide,
    paper_figures={
        "functional forms": "BoN: d(alpha - beta d); RL: d(alpha - beta log d)",
        "peak": "moves right with more RM data",
    },
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, pretrain_steps=2000, rm_pairs=[512, 2048, 8192, 32768], rm_steps=1000,
                    bon_prompts=128, bon_samples=4096, ppo_steps=500, prompts_per_step=128),
    },
)  # fmt: skip
def overoptimization(cfg: OveroptimizationConfig, ctx: RunContext) -> Measurement:
    """Proxy RMs from 128-2048 gold-labelled pairs; best-of-n and PPO against each; gold and proxy against d."""
    plt = pyplot()
    import copy
    import math

    import numpy as np

    from ..oversight.best_of_n import best_of_n_kl, expected_best_of_n, fit_bon, fit_rl
    from ..training import RunOptions, TrainConfig
    from ..training.ppo import PPOConfig, train_ppo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import (
        evaluate,
        gold_pairs,
        make_setup,
        pairwise_accuracy,
        sample,
        train_proxy_reward_model,
    )

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device, repetition_penalty=cfg.repetition_penalty)
    all_pairs, _ = gold_pairs(setup, max(cfg.rm_pairs), seed=ctx.seed + 10)
    held_out, _ = gold_pairs(setup, 256, bt_temperature=0.0, drop_ties=True, seed=ctx.seed + 20)

    prompts = setup.task.prompts(cfg.bon_prompts, seed=ctx.seed + 40)
    repeated = [p for p in prompts for _ in range(cfg.bon_samples)]
    candidates = sample(setup, setup.base, repeated, seed=ctx.seed + 41)
    gold = np.array([setup.task.gold_reward(c) for c in candidates]).reshape(cfg.bon_prompts, cfg.bon_samples)
    ns = [2**k for k in range(int(math.log2(cfg.bon_samples)) + 1)]
    d_bon = [math.sqrt(best_of_n_kl(n)) for n in ns]
    ppo_prompts = setup.task.prompts(cfg.ppo_steps * cfg.prompts_per_step, seed=ctx.seed + 30)
    curves: dict[str, dict[str, Curve]] = {"bon": {}, "rl": {}}
    accuracy = {}
    for size in ctx.progress(cfg.rm_pairs, "reward-model sizes", total=len(cfg.rm_pairs)):
        reward_model, _ = train_proxy_reward_model(
            setup, all_pairs[:size], steps=cfg.rm_steps, seed=ctx.seed, device=ctx.device
        )
        accuracy[str(size)] = pairwise_accuracy(setup, reward_model, held_out)
        proxy_fn = reward_model_fn(reward_model, setup.tokenizer, chat=False)
        proxy = np.array(proxy_fn(repeated, candidates)).reshape(cfg.bon_prompts, cfg.bon_samples)
        curves["bon"][str(size)] = Curve(
            d=d_bon, gold=[expected_best_of_n(proxy, gold, n).tolist() for n in ns],
            proxy=[expected_best_of_n(proxy, proxy, n).tolist() for n in ns],
        )  # fmt: skip

        policy = copy.deepcopy(setup.base)
        points: list[tuple[float, list[float], list[float]]] = []

        def measure(policy=policy, proxy_fn=proxy_fn, points=points) -> None:
            texts = sample(setup, policy, setup.eval_prompts, seed=ctx.seed)
            result = evaluate(setup, policy, seed=ctx.seed, completions=texts)
            points.append(
                (math.sqrt(max(result.kl, 0.0)), result.gold, list(proxy_fn(setup.eval_prompts, texts)))
            )

        measure()
        train_ppo(
            policy, setup.tokenizer, ppo_prompts, [proxy_fn],
            PPOConfig(prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.completion_length, kl_coef=cfg.ppo_kl_coef),
            TrainConfig(steps=cfg.ppo_steps, lr=cfg.ppo_lr, log_every=cfg.eval_every, schedule="constant"),
            chat=False,
            options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=lambda step, record, measure=measure: measure()),
        )  # fmt: skip
        curves["rl"][str(size)] = Curve(
            d=[p[0] for p in points], gold=[p[1] for p in points], proxy=[p[2] for p in points]
        )
        for i, (d, g, q) in enumerate(points):
            ctx.log(i * cfg.eval_every, rm_pairs=size, d=d, gold=_mean(g), proxy=_mean(q))
    record = OveroptimizationRecord(rm_pairs=list(cfg.rm_pairs), curves=curves, rm_accuracy=accuracy)

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    proxy_axes = [ax.twinx() for ax in axes]  # the proxy is in reward-model units, the gold in [-2, 1]
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(cfg.rm_pairs)))
    fits = []
    for color, size in zip(colors, cfg.rm_pairs, strict=True):
        for ax, proxy_ax, method in zip(axes, proxy_axes, METHODS, strict=True):
            curve = curves[method][str(size)]
            d = np.array(curve.d)
            g = np.array([_mean(v) for v in curve.gold]) - _mean(curve.gold[0])
            q = np.array([_mean(v) for v in curve.proxy]) - _mean(curve.proxy[0])
            ax.plot(d, g, "o-", color=color, label=f"gold, RM on {size} pairs")
            proxy_ax.plot(d, q, "x:", color=color, alpha=0.6)
            alpha, beta = (fit_bon if method == "bon" else fit_rl)(d, g)
            fits.append([method, size, round(alpha, 4), round(beta, 4), round(accuracy[str(size)], 3)])
            if method == "bon":
                fine = np.linspace(0, d.max(), 50)
                ax.plot(fine, fine * (alpha - beta * fine), "--", color=color, linewidth=0.8)
    for ax, proxy_ax, title in zip(
        axes, proxy_axes, ("Best-of-n (dashed: fit)", "PPO, no KL penalty"), strict=True
    ):
        ax.set(xlabel="d = sqrt(KL)", ylabel="gold reward gain (solid)", title=title)
        proxy_ax.set_ylabel("proxy reward gain (dotted)")
    axes[0].legend(fontsize=7)
    figure = ctx.figure(
        fig, "overoptimization", "Gold (solid) and proxy (dotted) reward against d = sqrt(KL)"
    )
    sections = [
        Section("Results", [figure, Table(["method", "RM pairs", "alpha", "beta", "RM accuracy (held-out gold)"], fits)]),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task with a second gold term: gold = sentiment − {cfg.repetition_penalty} × the share "
                    f"of repeated words. Proxy reward models trained on {cfg.rm_pairs} pairs labelled by that gold reward "
                    f"(Bradley-Terry noise). Best-of-n: {cfg.bon_samples} base samples for each of {cfg.bon_prompts} "
                    "prompts, the expected best-of-n computed exactly from order statistics, KL = log n − (n−1)/n. RL: PPO "
                    f"against each proxy with no KL penalty ({cfg.ppo_steps} steps), gold and proxy measured every "
                    f"{cfg.eval_every} steps on {cfg.n_eval_prompts} held-out prompts. Curves are gains over the base "
                    "model; fits are least squares without intercept."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = overoptimization
