"""sae: a TopK sparse autoencoder on one residual-stream layer of the embedded model, with its metrics, a
feature report and a steering check."""

from collections.abc import Sequence
from typing import Literal

from ..config import Count, LearningRate, NonNegativeCount
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, mean_estimate, pooled_estimate
from ._residual_sae import ResidualSiteConfig, resid_post_site
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

STEERING_PROMPT = "The weather today is"


class SAEExperimentConfig(ResidualSiteConfig):
    architecture: Literal["relu", "topk", "batchtopk", "jumprelu"] = "topk"
    expansion: Count = 4
    k: Count = 32
    seq_len: Count = 64
    train_blocks: Count = 480
    eval_blocks: Count = 32
    steps: Count = 300
    batch_size: Count = 1024
    lr: LearningRate = 3e-4
    log_every: Count = 25
    report_features: NonNegativeCount = 8
    steering_value: float = 40.0
    """Clamp value for the steering check, in units of the raw activation along the decoder direction."""


CLAIM = Claim(
    paper="Bricken et al. 2023, Towards Monosemanticity; Gao et al. 2024, Scaling and Evaluating Sparse Autoencoders",
    finding="a sparse autoencoder decomposes a layer's activations into many sparse features that reconstruct it "
    "well enough to keep most of the model's loss when spliced in, and individual features read as single concepts",
    expectation="on held-out blocks, with two standard errors over blocks (and seeds when pooled): explained "
    "variance clearly above 0.7 and the share of the loss recovered against mean-ablating the layer (stricter "
    "than zero-ablation) clearly above 0.8: reproduced; both clearly above 0.5: partial. The headline is the "
    "loss increase in nats when the SAE is spliced in; the feature report is for reading, not scored",
)


class SAERecord(Record):
    site: str
    d_sae: int
    train_tokens: int
    held_out_tokens: int
    l0: float
    explained_variance: float
    explained_variance_per_block: list[float]
    ce_clean: list[float]
    """Per held-out block: next-token loss without intervention, with the SAE spliced in, and with the layer
    zero- and mean-ablated."""
    ce_sae: list[float]
    ce_zero: list[float]
    ce_mean: list[float]
    dead_fraction: float
    dense_fraction: float
    steered_feature: int


def recovered(record: SAERecord, ablation: str = "mean", resamples: int = 1000) -> Estimate:
    """(CE_ablated − CE_sae) / (CE_ablated − CE_clean), with a bootstrap standard error over blocks."""
    import numpy as np

    clean, sae = np.array(record.ce_clean), np.array(record.ce_sae)
    ablated = np.array(getattr(record, f"ce_{ablation}"))

    def ratio(idx) -> float:
        return (ablated[idx].mean() - sae[idx].mean()) / (ablated[idx].mean() - clean[idx].mean())

    draws = [
        ratio(idx) for idx in np.random.default_rng(0).integers(0, len(clean), size=(resamples, len(clean)))
    ]
    return Estimate(float(ratio(np.arange(len(clean)))), float(np.std(draws)), len(clean))


def decide(records: Sequence[SAERecord]) -> Decision:
    ev = pooled_estimate(
        [
            Estimate(r.explained_variance, mean_estimate(r.explained_variance_per_block).se, len(r.ce_clean))
            for r in records
        ]
    )
    kept = pooled_estimate([recovered(r, "mean") for r in records])
    lenient = pooled_estimate([recovered(r, "zero") for r in records])
    increase = pooled_estimate(
        [mean_estimate([s - c for s, c in zip(r.ce_sae, r.ce_clean, strict=True)]) for r in records]
    )
    figures = {
        "loss_increase_nats": round(increase.value, 4),
        "ce_recovered_vs_mean_ablation": round(kept.value, 4),
        "ce_recovered_vs_zero_ablation": round(lenient.value, 4),
        "explained_variance": round(ev.value, 4),
        "l0": round(sum(r.l0 for r in records) / len(records), 2),
    }
    reasons = [
        f"splicing the SAE in raises the loss by {increase} nats",
        f"it keeps {kept.value:.3f} ± {kept.se:.3f} of the loss against mean-ablation ({lenient.value:.3f} against "
        f"zero-ablation); explained variance {ev.value:.3f} ± {ev.se:.3f}",
    ]
    return graded(
        ev.clearly_above(0.7) and kept.clearly_above(0.8),
        ev.clearly_above(0.5) and kept.clearly_above(0.5),
        reasons,
        figures,
    )


@experiment(
    "sae",
    claim=CLAIM,
    config=SAEExperimentConfig,
    decide=decide,
    paper_figures={
        "loss_increase_nats": "Gao et al.: small, falling with latents and k (GPT-2 small, GPT-4)",
        "bricken_features": "4,096 features, 168 dead (one-layer transformer MLP)",
        "gao_topk": "TopK (k=32) beats ReLU at equal L0 on normalized MSE; few dead latents with AuxK",
    },
    presets={
        "cpu": {},
        "gpu": dict(expansion=16, train_blocks=8000, eval_blocks=128, steps=4000, seq_len=128, lr=2e-4),
    },
)
def sae_experiment(cfg: SAEExperimentConfig, ctx: RunContext) -> Measurement:
    """Cache one layer's activations on standard-library docstrings, train an SAE, evaluate and read it."""
    plt = pyplot()
    import torch

    from ..data.corpus import train_eval_blocks
    from ..generation import HFGenerator, SamplingParams
    from ..interp import HookedModel
    from ..interp.sae import (
        ActivationStore,
        ce_losses_per_block,
        clamp_feature,
        evaluate_sae,
        explained_variance,
        feature_activations,
        sae_config,
        save_sae,
        summarize_features,
        train_sae,
    )
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    site = resid_post_site(hooked, cfg.layer, cfg.model)
    train_blocks, eval_blocks = train_eval_blocks(tokenizer, cfg.seq_len, cfg.train_blocks, cfg.eval_blocks)

    store = ActivationStore.from_model(hooked, site, train_blocks, model_name=cfg.model)
    held_out = ActivationStore.from_model(hooked, site, eval_blocks, model_name=cfg.model)
    config = sae_config(
        cfg.architecture,
        d_in=store.d_in,
        expansion=cfg.expansion,
        steps=cfg.steps,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        dead_feature_window=len(store),  # a latent silent for a whole epoch is dead
        **({"k": cfg.k} if cfg.architecture in ("topk", "batchtopk") else {}),
    )
    curve = []

    def on_log(step: int, record: dict[str, float]) -> None:
        curve.append((step, record["explained_variance"], record["l0"]))
        ctx.log(step, **record)

    sae = train_sae(
        config,
        store,
        seed=ctx.seed,
        device=ctx.device,
        log_every=cfg.log_every,
        on_log=on_log,
    )
    save_sae(sae, ctx.path / "sae", model_name=cfg.model, hook_name=site, context_size=cfg.seq_len)
    evaluation = evaluate_sae(sae, held_out.activations.to(ctx.device))
    ce = ce_losses_per_block(hooked, sae, site, eval_blocks)
    per_block_ev = [
        explained_variance(chunk, sae(chunk).reconstruction)
        for chunk in held_out.activations.to(ctx.device).split(len(held_out) // cfg.eval_blocks)
    ]

    # the feature report: alive, not dense, most frequent first (deterministic given the run)
    report_blocks = torch.cat([eval_blocks, train_blocks[:96]])
    acts = feature_activations(hooked, sae, site, report_blocks)
    frequency = (acts > 0).float().mean(dim=(0, 1))
    candidates = [i for i in frequency.argsort(descending=True).tolist() if 0 < frequency[i] < 0.05]
    chosen = candidates[: cfg.report_features]
    summaries = summarize_features(hooked, sae, chosen, acts, report_blocks, tokenizer)

    # steering: clamp the first reported feature while the model continues a neutral prompt
    generator = HFGenerator(model, tokenizer, chat=False)
    params = SamplingParams(max_new_tokens=20)
    plain = generator.generate([STEERING_PROMPT], params)[0].text
    steer_feature = chosen[0] if chosen else 0
    with hooked.hooks({site: clamp_feature(sae, steer_feature, cfg.steering_value)}):
        steered = generator.generate([STEERING_PROMPT], params)[0].text

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps_, evs, l0s = zip(*curve, strict=True)
    left.plot(steps_, evs, marker=".")
    left.set(xlabel="step", ylabel="explained variance (train batch)", title="Training")
    twin = left.twinx()
    twin.plot(steps_, l0s, color="tab:orange", marker=".")
    twin.set_ylabel("L0", color="tab:orange")
    alive = evaluation.frequencies[evaluation.frequencies > 0].cpu()
    right.hist(alive.log10().numpy(), bins=40)
    right.set(
        xlabel="log10 firing frequency (held-out tokens)",
        ylabel="latents",
        title=f"{(evaluation.frequencies == 0).sum().item()} of {config.d_sae} latents never fire",
    )
    figure = ctx.figure(fig, "sae_training", "Training curve and the feature-frequency histogram")

    record = SAERecord(
        site=site, d_sae=config.d_sae, train_tokens=len(store), held_out_tokens=len(held_out), l0=evaluation.l0,
        explained_variance=evaluation.explained_variance, explained_variance_per_block=per_block_ev,
        ce_clean=ce["clean"], ce_sae=ce["sae"], ce_zero=ce["zero"], ce_mean=ce["mean"],
        dead_fraction=evaluation.dead_fraction, dense_fraction=evaluation.dense_fraction, steered_feature=steer_feature,
    )  # fmt: skip
    metrics = {
        "site": site, "d_sae": config.d_sae, "train tokens": len(store), "tokens seen": cfg.steps * cfg.batch_size,
        "held-out tokens": len(held_out), "L0": round(evaluation.l0, 2),
        "explained variance": round(evaluation.explained_variance, 4),
        **{f"CE {name}": round(sum(v) / len(v), 4) for name, v in ce.items()},
        "dead": f"{evaluation.dead_fraction:.1%}", "dense": f"{evaluation.dense_fraction:.1%}",
    }  # fmt: skip
    feature_rows = [
        [
            s.feature,
            f"{s.frequency:.2%}",
            round(s.mean_activation, 2),
            " · ".join(repr(t) for t in s.promoted_tokens),
            " ‖ ".join(f"{a}: {c}" for a, c in s.top_contexts[:3]),
        ]
        for s in summaries
    ]
    sections = [
        Section(
            "Metrics (held-out)",
            [
                figure,
                Table(["metric", "value"], [[k, v] for k, v in metrics.items()]),
            ],
        ),
        Section(
            "Feature report",
            [
                Text(
                    "Alive, non-dense latents in order of firing frequency; top contexts mark the token with [[ ]]; "
                    "'promotes' is the logit lens of the decoder direction."
                ),
                Table(["feature", "fires on", "mean act.", "promotes", "top contexts"], feature_rows),
            ],
        ),
        Section(
            "Steering by clamping",
            [
                Text(f"Feature {steer_feature} clamped to {cfg.steering_value} at {site}, greedy decoding."),
                Table(
                    ["", "continuation of " + repr(STEERING_PROMPT)], [["plain", plain], ["clamped", steered]]
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"{len(store):,} training tokens ({cfg.train_blocks} blocks of {cfg.seq_len} of Python standard-"
                    f"library docstrings, BOS positions left out) and {len(held_out):,} held-out tokens from later "
                    f"blocks; {cfg.steps} Adam steps of {cfg.batch_size} tokens. The SAE is saved in SAELens's format "
                    "in the run folder (sae/). Bricken et al. trained on billions of tokens; this is a CPU budget."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = sae_experiment
