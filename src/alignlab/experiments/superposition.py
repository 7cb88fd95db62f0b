"""superposition: toy models of superposition — features packed beyond the dimension count as they grow
sparse, the two-feature phase diagram, and an SAE recovering the packed features."""

from pydantic import model_validator

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class SuperpositionConfig(ExperimentConfig):
    n_features: int = 20
    n_hidden: int = 5
    importance_decay: float = 0.9
    """Feature i has importance decay^i."""
    sparsities: list[float] = [0.0, 0.7, 0.9, 0.97, 0.99, 0.997]
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 1e-2
    phase_grid: int = 7
    """The two-feature phase diagram samples grid × grid (density, relative importance) points."""
    phase_steps: int = 1500
    sae_sparsity: float = 0.99
    sae_expansion: int = 8
    sae_steps: int = 2000

    @model_validator(mode="after")
    def _consistent(self) -> "SuperpositionConfig":
        if not 0 < self.n_hidden < self.n_features:
            raise ValueError(f"need 0 < n_hidden ({self.n_hidden}) < n_features ({self.n_features})")
        if any(not 0 <= s < 1 for s in self.sparsities) or not 0 <= self.sae_sparsity < 1:
            raise ValueError("sparsities must be in [0, 1)")
        if self.phase_grid < 2:
            raise ValueError("phase_grid must be at least 2")
        return self


CLAIM = Claim(
    paper="Elhage et al. 2022, Toy Models of Superposition; Bricken et al. 2023, Towards Monosemanticity",
    finding="with dense features a model keeps only the m most important in m dimensions; as features grow "
    "sparse it represents many more than m in superposition; the two-feature phase diagram shows "
    "superposition only at low density; an SAE recovers the packed features",
    expectation="reproduced if (a) at S = 0 at most m features are represented while at the sparsest setting at "
    "least 2m are, (b) the n=2, m=1 diagram shows superposition at some density ≤ 0.1 and none at density 1, "
    "and (c) the SAE's decoder matches the represented features with mean max cosine ≥ 0.9; partial if (a) holds",
)


@experiment(
    "superposition",
    claim=CLAIM,
    config=SuperpositionConfig,
    presets={
        "cpu": {},
        "gpu": dict(n_features=80, n_hidden=20, phase_grid=12, steps=10000, phase_steps=5000),
    },
)
def superposition(cfg: SuperpositionConfig, ctx: RunContext) -> Outcome:
    """Sweep sparsity for n→m toys, draw the two-feature phase diagram, recover features with an SAE."""
    plt = pyplot()
    import numpy as np
    import torch

    from ..interp.sae import ActivationStore, SAEConfig, train_sae
    from ..interp.superposition import (
        classify_two_feature_phase,
        representation,
        sparse_features,
        train_toy_model,
    )

    importance = cfg.importance_decay ** torch.arange(cfg.n_features, dtype=torch.float32)
    sweep, models = [], {}
    for sparsity in ctx.progress(cfg.sparsities, "sparsity sweep"):
        model = train_toy_model(
            cfg.n_features,
            cfg.n_hidden,
            sparsity,
            importance,
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            seed=ctx.seed,
        )
        rep = representation(model)
        models[sparsity] = model
        sweep.append((sparsity, rep))
        ctx.log(len(sweep), sparsity=sparsity, represented=rep.n_represented)

    # n = 2 features, m = 1 dimension: feature 0 has importance 1, feature 1 the relative importance r
    densities = np.logspace(-2, 0, cfg.phase_grid)
    ratios = np.logspace(-1, 1, cfg.phase_grid)
    phases = np.empty((len(ratios), len(densities)), dtype=object)
    for i, ratio in enumerate(ratios):
        for j, density in enumerate(densities):
            model = train_toy_model(
                2,
                1,
                1 - density,
                torch.tensor([1.0, float(ratio)]),
                steps=cfg.phase_steps,
                batch_size=512,
                lr=cfg.lr,
                seed=ctx.seed,
            )
            phases[i, j] = classify_two_feature_phase(model)

    # an SAE on the hidden activations of the sparse model, scored against the features it represents
    toy = models.get(cfg.sae_sparsity) or train_toy_model(
        cfg.n_features,
        cfg.n_hidden,
        cfg.sae_sparsity,
        importance,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=ctx.seed,
    )
    generator = torch.Generator().manual_seed(ctx.seed)
    with torch.no_grad():
        hidden = toy.hidden(sparse_features(200_000, cfg.n_features, cfg.sae_sparsity, generator))
    hidden = hidden[hidden.norm(dim=1) > 0]  # rows with no active feature carry nothing to decompose
    store = ActivationStore(hidden)
    sae = train_sae(
        SAEConfig(
            d_in=cfg.n_hidden,
            expansion=cfg.sae_expansion,
            architecture="relu",
            l1_coefficient=0.5,
            lr=3e-3,
            dead_feature_window=20_000,
        ),
        store.batches(1024, seed=ctx.seed),
        steps=cfg.sae_steps,
        scale=store.normalization_scale(),
        seed=ctx.seed,
    )
    rep = representation(toy)
    represented = [i for i, norm in enumerate(rep.norms) if norm > 0.5]
    truth = toy.W.detach()[:, represented].T
    truth = truth / truth.norm(dim=1, keepdim=True)
    decoder = sae.W_dec.detach() / sae.W_dec.detach().norm(dim=1, keepdim=True)
    max_cosine = (truth @ decoder.T).max(dim=1).values
    mmcs = max_cosine.mean().item()

    dense_count = sweep[0][1].n_represented if cfg.sparsities[0] == 0 else None
    sparsest = max(sweep, key=lambda item: item[0])[1].n_represented
    a = (dense_count is None or dense_count <= cfg.n_hidden) and sparsest >= 2 * cfg.n_hidden
    low_density = [j for j, d in enumerate(densities) if d <= 0.1 + 1e-9]
    b = any(phases[i, j] == "superposition" for i in range(len(ratios)) for j in low_density) and not any(
        phases[i, -1] == "superposition" for i in range(len(ratios))
    )
    c = mmcs >= 0.9
    verdict = "reproduced" if a and b and c else "partial" if a else "not_reproduced"

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    xs = [1 - s for s, _ in sweep]
    left.plot(xs, [r.n_represented for _, r in sweep], marker="o")
    left.axhline(cfg.n_hidden, color="gray", linestyle=":", label=f"m = {cfg.n_hidden}")
    left.set(
        xscale="log",
        xlabel="feature density 1 − S",
        ylabel="features with ‖W_i‖ > 0.5",
        title=f"n = {cfg.n_features}",
    )
    left.invert_xaxis()
    left.legend()
    colors = {"not represented": 0, "dedicated": 1, "superposition": 2}
    grid = np.vectorize(colors.get)(phases).astype(float)
    middle.imshow(grid, origin="lower", cmap="viridis", aspect="auto", vmin=0, vmax=2)
    middle.set_xticks(range(len(densities)), [f"{d:.2g}" for d in densities])
    middle.set_yticks(range(len(ratios)), [f"{r:.2g}" for r in ratios])
    middle.set(
        xlabel="feature density (1 − S)",
        ylabel="relative importance",
        title="n=2, m=1: 0 none · 1 dedicated · 2 superposition",
    )
    right.bar(range(len(max_cosine)), max_cosine.numpy())
    right.set(
        xlabel="represented feature",
        ylabel="max cosine with an SAE latent",
        ylim=(0, 1.05),
        title=f"SAE recovery (S = {cfg.sae_sparsity})",
    )
    figure = ctx.figure(
        fig, "superposition", "Features represented vs sparsity; the two-feature phase diagram; SAE recovery"
    )

    measured = {
        "represented_by_sparsity": {str(s): r.n_represented for s, r in sweep},
        "dimensions_per_feature_by_sparsity": {str(s): round(r.dimensions_per_feature, 3) for s, r in sweep},
        "phase_counts": {p: int((phases == p).sum()) for p in colors},
        "superposition_at_density_1": int(sum(phases[i, -1] == "superposition" for i in range(len(ratios)))),
        "sae_mean_max_cosine": round(mmcs, 4),
        "sae_features_recovered_above_0.9": f"{int((max_cosine > 0.9).sum())}/{len(represented)}",
        "checks": {"a_packing": a, "b_phase_diagram": b, "c_sae_recovery": c},
    }
    summary = (
        f"{sweep[0][1].n_represented} of {cfg.n_features} features represented at S={sweep[0][0]} vs {sparsest} at "
        f"S={max(cfg.sparsities)} in {cfg.n_hidden} dimensions; phase diagram: {measured['phase_counts']}; SAE mean "
        f"max cosine {mmcs:.3f} over {len(represented)} represented features"
    )
    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    ["sparsity S", "features represented", "dims per feature", "‖W_i‖ (first 10)"],
                    [
                        [
                            s,
                            r.n_represented,
                            round(r.dimensions_per_feature, 3),
                            " ".join(f"{x:.2f}" for x in r.norms[:10]),
                        ]
                        for s, r in sweep
                    ],
                ),
                Table(
                    ["relative importance \\ density", *[f"{d:.2g}" for d in densities]],
                    [[f"{r:.2g}", *phases[i]] for i, r in enumerate(ratios)],
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"x_i = 0 with probability S, else U[0, 1]; h = Wx (m = {cfg.n_hidden}), x̂ = ReLU(WᵀWx + b); loss "
                    f"Σ_i I_i (x_i − x̂_i)² with I_i = {cfg.importance_decay}^i; Adam, {cfg.steps} steps of {cfg.batch_size} "
                    f"fresh samples. Phase diagram: {cfg.phase_grid}×{cfg.phase_grid} two-feature models. SAE: ReLU, "
                    f"{cfg.sae_expansion}×{cfg.n_hidden} latents, trained on the hidden activations of the S = "
                    f"{cfg.sae_sparsity} model."
                )
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "bricken_sae": "4,096 features, 168 dead",
            "elhage": "superposition appears as features grow sparse",
        },
        sections=sections,
    )


EXPERIMENT = superposition
