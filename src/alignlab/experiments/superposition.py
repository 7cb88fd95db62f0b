"""superposition: toy models of superposition — features packed beyond the dimension count as they grow
sparse, the two-feature phase diagram, and an SAE recovering the packed features."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeFloat, OpenProbability, PositiveFloat, Probability
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

PHASES = ("not represented", "dedicated", "superposition")


class SuperpositionConfig(ExperimentConfig):
    n_features: Count = 20
    n_hidden: Count = 5
    importance_decay: OpenProbability = 0.9
    """Feature i has importance decay^i."""
    sparsities: list[Probability] = [0.0, 0.7, 0.9, 0.97, 0.99, 0.997]
    instances: Count = 4
    """Independent models per sparsity (trained side by side): the spread of their counts is the noise."""
    steps: Count = 3000
    batch_size: Count = 1024
    lr: LearningRate = 1e-2
    phase_grid: Count = 7
    """The two-feature phase diagram samples grid × grid (density, relative importance) points."""
    phase_instances: Count = 3
    """Models per phase-diagram cell; a cell's phase is their majority."""
    phase_steps: Count = 1500
    phase_batch_size: Count = 512
    sae_sparsity: Probability = 0.99
    sae_expansion: Count = 8
    sae_steps: Count = 2000
    sae_batch_size: Count = 1024
    sae_l1: NonNegativeFloat = 0.5
    sae_lr: LearningRate = 3e-3
    sae_samples: Count = 200_000
    random_decoders: Count = 1000
    """Random decoders of the SAE's shape drawn for the chance level of feature recovery."""
    represented_norm: PositiveFloat = 0.5
    """A feature counts as represented when ‖W_i‖ exceeds this (the paper's plots read ≈1 vs ≈0)."""

    @model_validator(mode="after")
    def _consistent(self) -> "SuperpositionConfig":
        if not self.n_hidden < self.n_features:
            raise ValueError(f"need n_hidden ({self.n_hidden}) < n_features ({self.n_features})")
        if 0.0 not in self.sparsities or any(s >= 1 for s in self.sparsities) or self.sae_sparsity >= 1:
            raise ValueError("sparsities must include 0 (dense features) and lie in [0, 1)")
        if self.phase_grid < 2:
            raise ValueError("phase_grid must be at least 2")
        return self


CLAIM = Claim(
    paper="Elhage et al. 2022, Toy Models of Superposition; Bricken et al. 2023, Towards Monosemanticity",
    finding="with dense features a model keeps only the m most important in m dimensions; as features grow "
    "sparse it represents many more than m in superposition; the two-feature phase diagram shows "
    "superposition only at low density; an SAE recovers the packed features",
    expectation="(a) the mean number of features represented at S = 0 is not clearly above m, and at the "
    "sparsest setting it exceeds 2m by more than two standard errors over independent instances; (b) in the n=2, "
    "m=1 diagram some cell at density ≤ 0.1 is in superposition and none at density 1 (each cell by the "
    "majority of its instances); (c) matching represented features one to one with SAE latents, the mean "
    "cosine is clearly (2 s.e.) above both 0.9 and the 99th percentile of the same statistic for random "
    "decoders of the SAE's shape. Reproduced if all three, partial if (a)",
)


class SuperpositionRecord(Record):
    n_hidden: int
    represented: dict[str, list[int]]
    """Sparsity -> the count of represented features in each instance."""
    dimensions_per_feature: dict[str, list[float]]
    densities: list[float]
    ratios: list[float]
    phases: list[list[list[str]]]
    """[ratio][density] -> each instance's phase."""
    sae_matched_cosines: list[float]
    """One per represented feature, matched one to one with SAE latents."""
    sae_mean_max_cosine: float
    """The older, lenient statistic: each feature's best latent, latents reused."""
    random_matched_mean: float
    random_matched_q99: float
    random_mean_max: float


def majority(phases: Sequence[str]) -> str:
    return max(PHASES, key=list(phases).count)


def decide(records: Sequence[SuperpositionRecord]) -> Decision:
    m = records[0].n_hidden
    sparsest = max(records[0].represented, key=float)
    dense = mean_estimate([c for r in records for c in r.represented["0.0"]])
    packed = mean_estimate([c for r in records for c in r.represented[sparsest]])
    a = not dense.clearly_above(m) and packed.clearly_above(2 * m)

    densities = records[0].densities
    cells = [
        [majority([p for r in records for p in r.phases[i][j]]) for j in range(len(densities))]
        for i in range(len(records[0].ratios))
    ]
    sparse_super = any(
        row[j] == "superposition" for row in cells for j, d in enumerate(densities) if d <= 0.1 + 1e-9
    )
    dense_super = any(row[-1] == "superposition" for row in cells)
    b = sparse_super and not dense_super

    recovery = mean_estimate([c for r in records for c in r.sae_matched_cosines])
    chance = max(r.random_matched_q99 for r in records)
    c = recovery.clearly_above(max(0.9, chance))
    figures = {
        "features_represented_dense": round(dense.value, 2),
        f"features_represented_sparsest (S={sparsest})": round(packed.value, 2),
        "superposition_cells_at_density_1": sum(row[-1] == "superposition" for row in cells),
        "sae_matched_cosine": round(recovery.value, 3),
        "random_decoder_matched_cosine_q99": round(chance, 3),
        "sae_mean_max_cosine (lenient)": round(sum(r.sae_mean_max_cosine for r in records) / len(records), 3),
        "random_decoder_mean_max_cosine": round(sum(r.random_mean_max for r in records) / len(records), 3),
    }
    reasons = [
        f"(a) {'holds' if a else 'fails'}: {dense} features represented at S = 0 vs {packed} at S = {sparsest} "
        f"in m = {m} dimensions",
        f"(b) {'holds' if b else 'fails'}: superposition at some density ≤ 0.1: {sparse_super}; at density 1: "
        f"{dense_super}",
        f"(c) {'holds' if c else 'fails'}: SAE one-to-one matched cosine {recovery} against 0.9 and the random-"
        f"decoder 99th percentile {chance:.3f}",
    ]
    return graded(a and b and c, a, reasons, figures)


@experiment(
    "superposition",
    claim=CLAIM,
    config=SuperpositionConfig,
    decide=decide,
    paper_figures={
        "features_represented_dense": "m (the m most important)",
        "sae_matched_cosine": "Bricken: 4,096 features, 168 dead; features match ground truth in toys",
    },
    presets={
        "cpu": {},
        "gpu": dict(n_features=80, n_hidden=20, phase_grid=12, steps=10000, phase_steps=5000, instances=16),
    },
)
def superposition(cfg: SuperpositionConfig, ctx: RunContext) -> Measurement:
    """Sweep sparsity for n→m toys, draw the two-feature phase diagram, recover features with an SAE."""
    plt = pyplot()
    import numpy as np
    import torch

    from ..interp.sae import ActivationStore, sae_config, train_sae
    from ..interp.superposition import (
        classify_two_feature_phase,
        matched_cosines,
        representation,
        sparse_features,
        train_toy_model,
    )

    importance = cfg.importance_decay ** torch.arange(cfg.n_features, dtype=torch.float32)
    settings = sorted(set(cfg.sparsities) | {cfg.sae_sparsity})
    per_instance = torch.tensor([s for s in settings for _ in range(cfg.instances)])
    sweep = train_toy_model(
        cfg.n_features, cfg.n_hidden, per_instance, importance, n_instances=len(per_instance),
        steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=ctx.seed,
    )  # fmt: skip
    reps = {s: [representation(sweep, k, cfg.represented_norm) for k in range(len(per_instance)) if per_instance[k] == s]
            for s in settings}  # fmt: skip
    for i, s in enumerate(cfg.sparsities):
        ctx.log(i, sparsity=s, represented=float(np.mean([r.n_represented for r in reps[s]])))

    # n = 2 features, m = 1 dimension: feature 0 has importance 1, feature 1 the relative importance r
    densities = np.logspace(-2, 0, cfg.phase_grid)
    ratios = np.logspace(-1, 1, cfg.phase_grid)
    cells = [(i, j) for i in range(len(ratios)) for j in range(len(densities))]
    k = cfg.phase_instances
    phase_model = train_toy_model(
        2, 1,
        torch.tensor([1 - densities[j] for _, j in cells for _ in range(k)], dtype=torch.float32),
        torch.tensor([[1.0, ratios[i]] for i, _ in cells for _ in range(k)], dtype=torch.float32),
        n_instances=len(cells) * k, steps=cfg.phase_steps, batch_size=cfg.phase_batch_size, lr=cfg.lr, seed=ctx.seed,
    )  # fmt: skip
    phases = [[[] for _ in densities] for _ in ratios]
    for c, (i, j) in enumerate(cells):
        phases[i][j] = [classify_two_feature_phase(phase_model, c * k + q) for q in range(k)]

    # an SAE on the hidden activations of one sparse model, scored against the features it represents
    instance = int((per_instance == cfg.sae_sparsity).nonzero()[0])
    generator = torch.Generator().manual_seed(ctx.seed)
    with torch.no_grad():
        x = sparse_features(cfg.sae_samples, cfg.n_features, cfg.sae_sparsity, generator)
        hidden = sweep.hidden(x[:, None].expand(-1, sweep.n_instances, -1))[:, instance]
    hidden = hidden[hidden.norm(dim=1) > 0]  # rows with no active feature carry nothing to decompose
    store = ActivationStore(hidden)
    sae = train_sae(
        sae_config(
            "relu", d_in=cfg.n_hidden, expansion=cfg.sae_expansion, l1_coefficient=cfg.sae_l1, lr=cfg.sae_lr,
            steps=cfg.sae_steps, batch_size=cfg.sae_batch_size, dead_feature_window=20_000,
        ),
        store, seed=ctx.seed,
    )  # fmt: skip
    rep = representation(sweep, instance, cfg.represented_norm)
    represented = [i for i, norm in enumerate(rep.norms) if norm > cfg.represented_norm]
    truth = sweep.W.detach()[instance][:, represented].T  # (F, m)
    decoder = sae.W_dec.detach()  # (d_sae, m)
    matched = matched_cosines(truth, decoder)

    def mean_max(directions: torch.Tensor) -> float:
        unit = directions / directions.norm(dim=1, keepdim=True)
        return (truth / truth.norm(dim=1, keepdim=True) @ unit.T).max(dim=1).values.mean().item()

    random_matched, random_max = [], []
    for _ in range(cfg.random_decoders):
        directions = torch.randn(decoder.shape, generator=generator)
        random_matched.append(matched_cosines(truth, directions).mean().item())
        random_max.append(mean_max(directions))
    record = SuperpositionRecord(
        n_hidden=cfg.n_hidden,
        represented={str(s): [r.n_represented for r in reps[s]] for s in cfg.sparsities},
        dimensions_per_feature={str(s): [r.dimensions_per_feature for r in reps[s]] for s in cfg.sparsities},
        densities=densities.tolist(), ratios=ratios.tolist(), phases=phases,
        sae_matched_cosines=matched.tolist(), sae_mean_max_cosine=mean_max(decoder),
        random_matched_mean=float(np.mean(random_matched)), random_matched_q99=float(np.quantile(random_matched, 0.99)),
        random_mean_max=float(np.mean(random_max)),
    )  # fmt: skip

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5))
    xs = [1 - s for s in cfg.sparsities]
    counts = [np.mean(record.represented[str(s)]) for s in cfg.sparsities]
    left.plot(xs, counts, marker="o")
    left.axhline(cfg.n_hidden, color="gray", linestyle=":", label=f"m = {cfg.n_hidden}")
    left.set(xscale="log", xlabel="feature density 1 − S", ylabel=f"features with ‖W_i‖ > {cfg.represented_norm}",
             title=f"n = {cfg.n_features} (mean of {cfg.instances} instances)")  # fmt: skip
    left.invert_xaxis()
    left.legend()
    grid = np.vectorize({p: i for i, p in enumerate(PHASES)}.get)(
        np.array([[majority(cell) for cell in row] for row in phases])
    ).astype(float)
    image = middle.imshow(grid, origin="lower", cmap="viridis", aspect="auto", vmin=0, vmax=2)
    middle.set_xticks(range(len(densities)), [f"{d:.2g}" for d in densities], rotation=45)
    middle.set_yticks(range(len(ratios)), [f"{r:.2g}" for r in ratios])
    middle.set(
        xlabel="feature density (1 − S)", ylabel="relative importance of feature 1", title="n = 2, m = 1"
    )
    bar = fig.colorbar(image, ax=middle, ticks=[0, 1, 2])
    bar.ax.set_yticklabels(["none", "dedicated", "superp."], fontsize=8)
    right.bar(range(len(matched)), matched.numpy(), label="SAE latent (one to one)")
    right.axhline(
        record.random_matched_q99, color="tab:red", linestyle="--", label="random decoders, 99th pct."
    )
    right.axhline(0.9, color="black", linestyle=":", label="0.9")
    right.set(xlabel="represented feature", ylabel="cosine with its matched latent", ylim=(0, 1.05),
              title=f"SAE recovery (S = {cfg.sae_sparsity})")  # fmt: skip
    right.legend(fontsize=7, loc="lower left")
    figure = ctx.figure(
        fig, "superposition", "Features represented vs sparsity; the two-feature phase diagram; SAE recovery"
    )

    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    ["sparsity S", "features represented (per instance)", "dims per feature (mean)"],
                    [[s, " ".join(map(str, record.represented[str(s)])),
                      round(float(np.mean(record.dimensions_per_feature[str(s)])), 3)] for s in cfg.sparsities],
                ),
                Table(
                    ["relative importance \\ density", *[f"{d:.2g}" for d in densities]],
                    [[f"{r:.2g}", *[majority(cell) for cell in phases[i]]] for i, r in enumerate(ratios)],
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"x_i = 0 with probability S, else U[0, 1]; h = Wx (m = {cfg.n_hidden}), x̂ = ReLU(WᵀWx + b); loss "
                    f"Σ_i I_i (x_i − x̂_i)² with I_i = {cfg.importance_decay}^i; Adam, {cfg.steps} steps of {cfg.batch_size} "
                    f"fresh samples, {cfg.instances} independent instances per sparsity. Phase diagram: "
                    f"{cfg.phase_grid}×{cfg.phase_grid} cells of {cfg.phase_instances} two-feature models. SAE: ReLU, "
                    f"{cfg.sae_expansion}×{cfg.n_hidden} latents, trained on the hidden activations of one S = "
                    f"{cfg.sae_sparsity} instance; its decoder is matched to the {len(represented)} represented "
                    f"features one to one (Hungarian algorithm) and compared with {cfg.random_decoders} random "
                    f"Gaussian decoders of the same shape (one-to-one mean {record.random_matched_mean:.3f}; "
                    f"best-latent mean {record.random_mean_max:.3f})."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


EXPERIMENT = superposition
