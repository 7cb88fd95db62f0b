"""dpo-robustness: DPO, IPO, robust DPO and Dr. DPO as a growing share of preference labels is flipped."""

from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count, LearningRate, PositiveFloat, Probability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from ._sentiment_config import SentimentConfig
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

LOSSES = ("sigmoid", "ipo", "robust", "dr_dpo")
NAMES = {"sigmoid": "DPO", "ipo": "IPO", "robust": "robust DPO (eps known)", "dr_dpo": "Dr. DPO"}


class DPORobustnessConfig(SentimentConfig):
    n_pairs: Count = 1024
    flip_rates: list[Probability] = [0.0, 0.1, 0.2, 0.3, 0.4]
    """Share of pairs whose label is flipped after Bradley-Terry labelling by the gold reward."""
    beta: PositiveFloat = 0.1
    beta_prime: PositiveFloat = 1.0
    """Dr. DPO's soft-minimum temperature (the paper's default)."""
    steps: Count = 100
    lr: LearningRate = 1e-3
    batch_size: Count = 32

    @field_validator("flip_rates")
    @classmethod
    def _below_half(cls, rates: list[float]) -> list[float]:
        if not rates or max(rates) >= 0.5:
            raise ValueError(
                "flip rates must be below 0.5 (robust DPO needs eps < 1/2) and at least one is needed"
            )
        return sorted(set(rates))


CLAIM = Claim(
    paper="Wu et al. 2025 (ICLR), Towards Robust Alignment of Language Models: Distributionally Robustifying DPO; "
    "Chowdhury et al. 2024, Provably Robust DPO",
    finding="with flipped preference labels DPO degrades; Dr. DPO (a soft minimum over the batch, beta' = 1) and "
    "robust DPO (an unbiased loss for a known flip rate) keep more of the reward as the flip rate grows to 40%",
    expectation="at the highest flip rate, Dr. DPO's and robust DPO's policies each reach a higher gold reward than "
    "DPO's trained on the same pairs, by more than two standard errors (differences paired over evaluation "
    "prompts, seeds pooled): reproduced if both, partial if one",
)


class DPORobustnessRecord(Record):
    flip_rates: list[float]
    gold: dict[str, dict[str, list[float]]]
    """Loss -> flip rate -> gold reward of the policy's sample for each evaluation prompt."""
    kl: dict[str, dict[str, float]]
    """Loss -> flip rate -> KL(policy ‖ base) per sequence."""
    gold_base: list[float]
    label_agreement: dict[str, float]
    """Flip rate -> share of training labels that agree with the noise-free gold preference."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def decide(records: Sequence[DPORobustnessRecord]) -> Decision:
    top = str(max(records[0].flip_rates))
    gains = {
        loss: pooled_estimate(
            [
                mean_estimate([a - b for a, b in zip(r.gold[loss][top], r.gold["sigmoid"][top], strict=True)])
                for r in records
            ]
        )  # fmt: skip
        for loss in ("dr_dpo", "robust")
    }
    figures = {
        f"gold_{loss}_flip{top}": round(_mean([_mean(r.gold[loss][top]) for r in records]), 4)
        for loss in LOSSES
    }
    figures["gold_base"] = round(_mean([_mean(r.gold_base) for r in records]), 4)
    figures |= {f"{loss}_minus_dpo_at_max_flip": round(g.value, 4) for loss, g in gains.items()}
    reasons = [
        f"at {float(top):.0%} flipped labels, {NAMES[loss]} minus DPO: {g}" for loss, g in gains.items()
    ]
    clear = [g.clearly_above(0) for g in gains.values()]
    return graded(all(clear), any(clear), reasons, figures)


@experiment(
    "dpo-robustness",
    claim=CLAIM,
    config=DPORobustnessConfig,
    decide=decide,
    paper_figures={
        "gold_dr_dpo_flip0.4": "above DPO's (reported qualitatively on IMDb and HH under 40% flips)"
    },
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, pretrain_steps=2000, n_pairs=8192, steps=500),
    },
)
def dpo_robustness(cfg: DPORobustnessConfig, ctx: RunContext) -> Measurement:
    """Train each DPO variant on pairs with 0-40% flipped labels; score the policies by the gold reward."""
    plt = pyplot()
    import copy

    from ..losses import pairwise_loss
    from ..training import RunOptions, TrainConfig
    from ..training.preference import train_dpo
    from ._sentiment import evaluate, gold_pairs, make_setup

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device)
    gold: dict[str, dict[str, list[float]]] = {loss: {} for loss in LOSSES}
    kl: dict[str, dict[str, float]] = {loss: {} for loss in LOSSES}
    agreement_by_rate = {}
    runs = [(eps, loss) for eps in cfg.flip_rates for loss in LOSSES]
    pairs_by_rate = {}
    for eps, loss in ctx.progress(runs, "losses × flip rates", total=len(runs)):
        if eps not in pairs_by_rate:  # the same pairs (and flips) for every loss at one rate
            pairs_by_rate[eps], agreement_by_rate[str(eps)] = gold_pairs(
                setup, cfg.n_pairs, flip_rate=eps, seed=ctx.seed + 10
            )
        policy = copy.deepcopy(setup.base)
        extra = {"robust": {"label_smoothing": eps}, "dr_dpo": {"beta_prime": cfg.beta_prime}}.get(loss, {})
        train_dpo(
            policy, setup.tokenizer, pairs_by_rate[eps], pairwise_loss(loss, beta=cfg.beta, **extra),
            TrainConfig(steps=cfg.steps, lr=cfg.lr, log_every=cfg.steps), batch_size=cfg.batch_size,
            chat=False, options=RunOptions(seed=ctx.seed, device=ctx.device),
        )  # fmt: skip
        result = evaluate(setup, policy, seed=ctx.seed)
        gold[loss][str(eps)], kl[loss][str(eps)] = result.gold, result.kl
        ctx.log(len(gold[loss]), loss=loss, flip_rate=eps, gold=result.gold_estimate.value, kl=result.kl)
    record = DPORobustnessRecord(
        flip_rates=list(cfg.flip_rates), gold=gold, kl=kl, gold_base=evaluate(setup, setup.base, seed=ctx.seed).gold,
        label_agreement=agreement_by_rate,
    )  # fmt: skip
    mean = {loss: {eps: _mean(gold[loss][str(eps)]) for eps in cfg.flip_rates} for loss in LOSSES}
    top = max(cfg.flip_rates)

    fig, ax = plt.subplots(figsize=(7, 4))
    for loss in LOSSES:
        ax.plot(cfg.flip_rates, [mean[loss][e] for e in cfg.flip_rates], marker="o", label=NAMES[loss])
    ax.axhline(_mean(record.gold_base), color="gray", linestyle=":", label="base model")
    ax.set(
        xlabel="share of flipped preference labels",
        ylabel="gold reward of samples",
        title="Preference-label noise",
    )
    ax.legend()
    figure = ctx.figure(
        fig, "dpo_robustness", "Gold reward of each policy's samples on the evaluation prompts"
    )

    table = Table(
        ["loss", *[f"flip {e:.0%}" for e in cfg.flip_rates], "KL at max flip"],
        [
            [NAMES[loss], *[round(mean[loss][e], 4) for e in cfg.flip_rates], round(kl[loss][str(top)], 2)]
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
    return Measurement(record, sections)


EXPERIMENT = dpo_robustness
