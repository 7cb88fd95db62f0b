"""dpo-robustness: DPO, IPO, robust DPO and Dr. DPO as a growing share of preference labels is flipped."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ._sentiment_config import SentimentConfig
from .registry import Outcome, RunContext, experiment

LOSSES = ("sigmoid", "ipo", "robust", "dr_dpo")


class DPORobustnessConfig(SentimentConfig):
    n_pairs: int = 1024
    flip_rates: list[float] = [0.0, 0.1, 0.2, 0.3, 0.4]
    """Share of pairs whose label is flipped after Bradley-Terry labelling by the gold reward."""
    beta: float = 0.1
    beta_prime: float = 1.0
    """Dr. DPO's soft-minimum temperature (the paper's default)."""
    steps: int = 100
    lr: float = 1e-3
    batch_size: int = 32
    seeds: int = 2


CLAIM = Claim(
    paper="Wu et al. 2025 (ICLR), Towards Robust Alignment of Language Models: Distributionally Robustifying DPO; "
    "Chowdhury et al. 2024, Provably Robust DPO",
    finding="with flipped preference labels DPO degrades; Dr. DPO (a soft minimum over the batch, beta' = 1) and "
    "robust DPO (an unbiased loss for a known flip rate) keep more of the reward as the flip rate grows to 40%",
    expectation="at the highest flip rate, both Dr. DPO and robust DPO reach a higher gold reward than DPO "
    "(reproduced); one of them is partial",
)


@experiment(
    "dpo-robustness",
    claim=CLAIM,
    config=DPORobustnessConfig,
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, pretrain_steps=2000, n_pairs=8192, steps=500, seeds=5),
    },
)
def dpo_robustness(cfg: DPORobustnessConfig, ctx: RunContext) -> Outcome:
    """Train each DPO variant on pairs with 0-40% flipped labels; score the policies by the gold reward."""
    plt = pyplot()
    import copy

    import numpy as np

    from ..training import RunOptions, TrainConfig
    from ..training.preference import DPOConfig, train_dpo
    from ._sentiment import evaluate, gold_pairs, make_setup

    gold: dict[str, dict[float, list[float]]] = {loss: {eps: [] for eps in cfg.flip_rates} for loss in LOSSES}
    kl: dict[str, dict[float, list[float]]] = {loss: {eps: [] for eps in cfg.flip_rates} for loss in LOSSES}
    base_gold = []
    runs = [(seed, eps) for seed in range(ctx.seed, ctx.seed + cfg.seeds) for eps in cfg.flip_rates]
    setups = {}
    for seed, eps in ctx.progress(runs, "noise levels", total=len(runs)):
        if seed not in setups:
            setups[seed] = make_setup(cfg, seed=seed, device=ctx.device)
            base_gold.append(evaluate(setups[seed], setups[seed].base, seed=seed)["gold"])
        setup = setups[seed]
        pairs, agreement = gold_pairs(setup, cfg.n_pairs, flip_rate=eps, seed=seed + 10)
        for loss in LOSSES:
            policy = copy.deepcopy(setup.base)
            dpo = DPOConfig(
                loss=loss,
                beta=cfg.beta,
                label_smoothing=eps if loss == "robust" else 0.0,
                beta_prime=cfg.beta_prime,
                batch_size=cfg.batch_size,
            )
            train_dpo(
                policy,
                setup.tokenizer,
                pairs,
                dpo,
                TrainConfig(steps=cfg.steps, lr=cfg.lr, log_every=cfg.steps),
                chat=False,
                options=RunOptions(seed=seed, device=ctx.device),
            )
            result = evaluate(setup, policy, seed=seed)
            gold[loss][eps].append(result["gold"])
            kl[loss][eps].append(result["kl"])
            ctx.log(
                len(gold[loss][eps]),
                loss=loss,
                flip_rate=eps,
                gold=result["gold"],
                kl=result["kl"],
                label_agreement=agreement,
            )

    mean = {loss: {eps: float(np.mean(v)) for eps, v in by_eps.items()} for loss, by_eps in gold.items()}
    top = max(cfg.flip_rates)
    beats = {loss: mean[loss][top] > mean["sigmoid"][top] for loss in ("dr_dpo", "robust")}
    verdict = "reproduced" if all(beats.values()) else "partial" if any(beats.values()) else "not_reproduced"

    fig, ax = plt.subplots(figsize=(7, 4))
    names = {"sigmoid": "DPO", "ipo": "IPO", "robust": "robust DPO (eps known)", "dr_dpo": "Dr. DPO"}
    for loss in LOSSES:
        ax.plot(cfg.flip_rates, [mean[loss][e] for e in cfg.flip_rates], marker="o", label=names[loss])
    ax.axhline(float(np.mean(base_gold)), color="gray", linestyle=":", label="base model")
    ax.set(
        xlabel="share of flipped preference labels",
        ylabel="gold reward of samples",
        title="Preference-label noise",
    )
    ax.legend()
    figure = ctx.figure(fig, "dpo_robustness", f"Gold reward after training, mean of {cfg.seeds} seeds")

    measured = {
        f"gold_{loss}_flip{e:g}": round(mean[loss][e], 4)
        for loss in LOSSES
        for e in (0.0, top)
        if e in cfg.flip_rates
    }
    measured["gold_base"] = round(float(np.mean(base_gold)), 4)
    for loss in ("dr_dpo", "robust"):  # paired by seed: same base model, same pairs
        diffs = [a - b for a, b in zip(gold[loss][top], gold["sigmoid"][top], strict=True)]
        measured[f"{loss}_minus_dpo_at_max_flip_per_seed"] = [round(d, 4) for d in diffs]
    summary = (
        f"at {top:.0%} flipped labels the gold reward is DPO {mean['sigmoid'][top]:.3f}, IPO {mean['ipo'][top]:.3f}, "
        f"robust DPO {mean['robust'][top]:.3f}, Dr. DPO {mean['dr_dpo'][top]:.3f} (clean labels: DPO "
        f"{mean['sigmoid'][min(cfg.flip_rates)]:.3f}; base model {measured['gold_base']:.3f}); per seed, Dr. DPO minus DPO = "
        f"{measured['dr_dpo_minus_dpo_at_max_flip_per_seed']}, robust minus DPO = {measured['robust_minus_dpo_at_max_flip_per_seed']}"
    )
    table = Table(
        ["loss", *[f"flip {e:.0%}" for e in cfg.flip_rates], "KL at max flip"],
        [
            [
                names[loss],
                *[round(mean[loss][e], 4) for e in cfg.flip_rates],
                round(float(np.mean(kl[loss][top])), 2),
            ]
            for loss in LOSSES
        ],
    )
    sections = [
        Section("Results", [figure, table]),
        Section(
            "Setup",
            [
                Text(
                    f"The sentiment task (see rlhf-pipeline). {cfg.n_pairs} pairs of base-model samples labelled by the gold reward "
                    f"(Bradley-Terry, temperature 0.1), then a share of labels flipped. Each loss: beta = {cfg.beta}, {cfg.steps} "
                    f"steps of {cfg.batch_size} pairs, lr {cfg.lr}; robust DPO is told the true flip rate; Dr. DPO uses "
                    f"beta' = {cfg.beta_prime}. Gold reward of sampled completions on {cfg.n_eval_prompts} held-out prompts."
                )
            ],
        ),
    ]
    paper = {
        f"gold_dr_dpo_flip{top:g}": "above DPO's (reported qualitatively on IMDb and HH under 40% flips)"
    }
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = dpo_robustness
