"""sae: a TopK sparse autoencoder on one residual-stream layer of the embedded model, with its metrics, a
feature report and a steering check."""

from typing import Literal

from pydantic import PositiveInt

from ..errors import AlignlabError
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment

STEERING_PROMPT = "The weather today is"


class SAEExperimentConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"
    layer: int = 12
    """Residual stream after this block (blocks.{layer}.hook_resid_post)."""
    architecture: Literal["relu", "topk", "batchtopk", "jumprelu"] = "topk"
    expansion: PositiveInt = 4
    k: PositiveInt = 32
    seq_len: PositiveInt = 64
    train_blocks: PositiveInt = 480
    eval_blocks: PositiveInt = 32
    steps: PositiveInt = 300
    batch_size: PositiveInt = 1024
    lr: float = 3e-4
    report_features: int = 8
    steering_value: float = 40.0
    """Clamp value for the steering check, in units of the raw activation along the decoder direction."""


CLAIM = Claim(
    paper="Bricken et al. 2023, Towards Monosemanticity; Gao et al. 2024, Scaling and Evaluating Sparse Autoencoders",
    finding="a sparse autoencoder decomposes a layer's activations into many sparse features that reconstruct it "
    "well enough to keep most of the model's loss when spliced in, and individual features read as single concepts",
    expectation="on held-out tokens: explained variance ≥ 0.7 and CE-loss recovered ≥ 0.8 (reproduced); both "
    "≥ 0.5 (partial); the feature report is for reading, not scored",
)


@experiment(
    "sae",
    claim=CLAIM,
    config=SAEExperimentConfig,
    presets={
        "cpu": {},
        "gpu": dict(expansion=16, train_blocks=8000, eval_blocks=128, steps=4000, seq_len=128, lr=2e-4),
    },
)
def sae_experiment(cfg: SAEExperimentConfig, ctx: RunContext) -> Outcome:
    """Cache one layer's activations on standard-library docstrings, train an SAE, evaluate and read it."""
    plt = pyplot()
    import torch

    from ..data.corpus import docstring_corpus, token_blocks
    from ..generation import HFGenerator, SamplingParams
    from ..interp import HookedModel
    from ..interp.sae import (
        ActivationStore,
        SAEConfig,
        ce_loss_recovered,
        clamp_feature,
        evaluate_sae,
        feature_activations,
        save_sae,
        summarize_features,
        train_sae,
    )
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    if not 0 <= cfg.layer < hooked.n_layers:
        raise AlignlabError(
            f"--set layer: layer {cfg.layer} does not exist: {cfg.model} has blocks 0..{hooked.n_layers - 1}"
        )
    site = f"blocks.{cfg.layer}.hook_resid_post"
    blocks = token_blocks(
        tokenizer, docstring_corpus(), cfg.seq_len, max_blocks=cfg.train_blocks + cfg.eval_blocks
    )
    if len(blocks) < cfg.train_blocks + cfg.eval_blocks:
        raise AlignlabError(
            f"--set train_blocks/eval_blocks: the corpus fills only {len(blocks)} blocks of {cfg.seq_len} tokens"
        )
    train_blocks, eval_blocks = blocks[: cfg.train_blocks], blocks[cfg.train_blocks :]

    store = ActivationStore.from_model(hooked, site, train_blocks, model_name=cfg.model)
    held_out = ActivationStore.from_model(hooked, site, eval_blocks, model_name=cfg.model)
    config = SAEConfig(
        d_in=store.d_in,
        expansion=cfg.expansion,
        architecture=cfg.architecture,
        k=cfg.k,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        dead_feature_window=len(store),  # a latent silent for a whole epoch is dead
    )
    curve = []

    def on_log(step: int, record: dict[str, float]) -> None:
        curve.append((step, record["explained_variance"], record["l0"]))
        ctx.log(step, **record)

    sae = train_sae(
        config,
        store.batches(cfg.batch_size, seed=ctx.seed),
        steps=cfg.steps,
        scale=store.normalization_scale(),
        seed=ctx.seed,
        device=ctx.device,
        log_every=25,
        on_log=on_log,
    )
    save_sae(sae, ctx.run.path / "sae", model_name=cfg.model, hook_name=site, context_size=cfg.seq_len)
    evaluation = evaluate_sae(sae, held_out.activations.to(ctx.device))
    ce = ce_loss_recovered(hooked, sae, site, eval_blocks)

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

    ev, recovered = evaluation.explained_variance, ce["recovered"]
    verdict = (
        "reproduced"
        if ev >= 0.7 and recovered >= 0.8
        else "partial"
        if ev >= 0.5 and recovered >= 0.5
        else "not_reproduced"
    )

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

    measured = {
        "site": site,
        "d_sae": config.d_sae,
        "train_tokens": len(store),
        "tokens_seen": cfg.steps * cfg.batch_size,
        "held_out_tokens": len(held_out),
        "l0": round(evaluation.l0, 2),
        "explained_variance": round(ev, 4),
        "ce_clean": round(ce["clean"], 4),
        "ce_with_sae": round(ce["sae"], 4),
        "ce_zero_ablated": round(ce["zero"], 4),
        "ce_loss_recovered": round(recovered, 4),
        "dead_fraction": round(evaluation.dead_fraction, 4),
        "dense_fraction": round(evaluation.dense_fraction, 4),
        "steered_feature": steer_feature,
    }
    summary = (
        f"{cfg.architecture} SAE ({config.d_sae} latents, L0 {evaluation.l0:.1f}) on {site}: held-out explained "
        f"variance {ev:.3f}, CE-loss recovered {recovered:.3f} (clean {ce['clean']:.3f}, with SAE {ce['sae']:.3f}, "
        f"zero-ablated {ce['zero']:.3f}); {evaluation.dead_fraction:.1%} dead"
    )
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
                Table(["metric", "value"], [[k, v] for k, v in measured.items()]),
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
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "bricken_features": "4,096 features, 168 dead (one-layer transformer MLP)",
            "gao_topk": "TopK (k=32) beats ReLU at equal L0 on normalized MSE; few dead latents with AuxK",
        },
        sections=sections,
    )


EXPERIMENT = sae_experiment
