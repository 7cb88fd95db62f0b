"""chinchilla: a compute-optimal scaling sweep of toy Llamas on a language with a known loss floor, fitted by
Hoffmann et al.'s three approaches (and Kaplan et al.'s power laws) to ask how model size should grow with compute."""

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, field_validator, model_validator

from ..config import Count, LearningRate, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable


class ChinchillaConfig(ExperimentConfig):
    budgets: tuple[PositiveFloat, ...] = (1e10, 3e10, 1e11, 3e11)
    """Compute budgets C = 6 N D (FLOPs, N without embeddings): one IsoFLOP profile each."""
    widths: tuple[Count, ...] = (8, 12, 16, 24, 32, 48, 64, 96)
    """d_model of the model ladder (2 heads, MLP 4x); budget i trains widths[i : i + sizes_per_budget]."""
    sizes_per_budget: Count = 5
    n_layers: Count = 2
    n_words: Count = 64
    n_topics: Count = 8
    zipf: PositiveFloat = 1.0
    concentration: PositiveFloat = 0.05
    language_seed: int = 0
    """The language is the same for every seed (so seeds' sweeps pool into one fit); seeds change the models'
    initialisation and the training samples."""
    seq_len: Count = 64
    batch_size: Count = 32
    lr: LearningRate = 1e-2
    eval_sequences: Count = 256
    sweep_folder: str | None = None
    """Where finished points are kept (None: the alignlab cache's ``sweeps/chinchilla``); a re-run only trains
    missing points, and several processes may share it."""

    @field_validator("widths")
    @classmethod
    def _widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        if any(w % 4 for w in widths):
            raise ValueError("each width must be a multiple of 4 (2 heads of an even size)")
        if list(widths) != sorted(set(widths)):
            raise ValueError("widths must be distinct and increasing")
        return widths

    @model_validator(mode="after")
    def _grid(self) -> "ChinchillaConfig":
        if list(self.budgets) != sorted(set(self.budgets)) or len(self.budgets) < 2:
            raise ValueError("give at least two distinct compute budgets, increasing")
        if self.sizes_per_budget < 3:
            raise ValueError("sizes_per_budget must be at least 3 (an IsoFLOP parabola needs three points)")
        need = len(self.budgets) + self.sizes_per_budget - 1
        if len(self.widths) != need:
            raise ValueError(f"{len(self.budgets)} budgets of {self.sizes_per_budget} sizes, each window one width "
                             f"up from the last, need exactly {need} widths; got {len(self.widths)}")  # fmt: skip
        return self


CLAIM = Claim(
    paper="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (Chinchilla); Besiroglu et al. 2024, "
    "Chinchilla Scaling: A Replication Attempt; Kaplan et al. 2020, Scaling Laws for Neural Language Models",
    finding="for a compute budget C, the loss-minimising model size grows as N_opt ~ C^a with a about 0.5 (model "
    "size and tokens in equal proportion), by three approaches that agree (a = 0.50, 0.49, 0.46; Besiroglu et "
    "al.'s refit of approach 3: 0.5126), against Kaplan et al.'s 0.73",
    expectation="toy Llamas on a synthetic language whose loss floor is known (a Zipf mixture of Markov chains), "
    "an IsoFLOP grid of four budgets x five sizes per seed; a from approach 1 (envelope of the training curves), "
    "2 (IsoFLOP parabolas) and 3 (Huber fit of E + A/N^alpha + B/D^beta), with 95% intervals from a bootstrap "
    "over runs within each budget. (a) The approaches agree: every pairwise difference's interval lies within "
    "+-0.23, the gap between Kaplan's and Hoffmann's exponents (closer than the two papers disagree); (b) a is "
    "Hoffmann's, not Kaplan's: approach 3's interval lies below 0.615, midway between 0.50 and 0.73. Reproduced if both, partial if one; not applicable if the grid does not "
    "bracket the optimum (fewer than two IsoFLOP profiles with an interior minimum)",
)

AGREEMENT_MARGIN = 0.23
"""Kaplan's 0.73 minus Hoffmann's 0.50. Set after the first seed: the first rule, +-0.1, failed on data drawn from an
exact Chinchilla law on this grid (tests/test_verdicts.py), because approach 1 picks its optimum among eight sizes
and resolves a no better than about +-0.08: it measured the grid's resolution, not agreement."""
HOFFMANN_A, KAPLAN_A = 0.5, 0.73
MIDPOINT = (HOFFMANN_A + KAPLAN_A) / 2
"""(b) first asked that approach 3's interval contain 0.5; on exact-law data with a = 0.5 the fit's interval was
0.512 to 0.515 (a point null fails any precise estimate), so before the other seeds it became this two-sided
question: is a nearer Hoffmann's value than Kaplan's, by more than the noise?"""


class SweepRun(BaseModel):
    budget: float
    width: int
    parameters: int
    non_embedding_parameters: int
    tokens: int
    loss: float
    curve: list[tuple[int, float]]
    """(tokens seen, held-out loss) during training."""


class ChinchillaRecord(Record):
    runs: list[SweepRun]
    floor: float
    """The Bayes-optimal held-out loss (mean over the held-out sequences): the E the fit should find."""
    cached: int
    """Runs read back from the sweep folder rather than trained in this run."""


class Estimates(BaseModel):
    approach_1: float
    approach_2: float
    approach_3: float


def exponents(runs: Sequence[SweepRun], start: dict | None = None):
    """(Estimates, the approach-3 fit) for a set of runs; raises ValueError where an approach cannot be fitted."""
    from ..scaling import envelope_exponent, fit_chinchilla, isoflop_exponent
    from ..scaling.fits import COARSE_STARTS

    n = np.array([r.non_embedding_parameters for r in runs], dtype=float)
    d = np.array([r.tokens for r in runs], dtype=float)
    loss = np.array([r.loss for r in runs])
    curve_n = [r.non_embedding_parameters for r in runs for _ in r.curve]
    curve_d, curve_loss = zip(*(point for r in runs for point in r.curve), strict=True)
    fit = fit_chinchilla(n, d, loss, starts=start or COARSE_STARTS)
    estimates = Estimates(
        approach_1=envelope_exponent(curve_n, curve_d, curve_loss),
        approach_2=isoflop_exponent([r.budget for r in runs], n, loss),
        approach_3=fit.a,
    )
    return estimates, fit


def decide(records: Sequence[ChinchillaRecord], *, resamples: int = 200) -> Decision:
    runs = [run for r in records for run in r.runs]
    try:
        full, fit = exponents(runs)
    except ValueError as error:
        return not_applicable(f"the sweep does not bracket the compute-optimal size: {error}")
    figures = {
        "a_approach_1": round(full.approach_1, 3),
        "a_approach_2": round(full.approach_2, 3),
        "a_approach_3": round(full.approach_3, 3),
        "alpha": round(fit.alpha, 3),
        "beta": round(fit.beta, 3),
        "E": round(fit.E, 3),
        "floor": round(float(np.mean([r.floor for r in records])), 3),
    }
    rng = np.random.default_rng(0)
    by_budget = {b: [r for r in runs if r.budget == b] for b in sorted({r.budget for r in runs})}
    start = {k: (v,) for k, v in zip(("a", "b", "e", "alpha", "beta"),
             (math.log(fit.A), math.log(fit.B), math.log(fit.E), fit.alpha, fit.beta), strict=True)}  # fmt: skip
    draws, failed = [], 0
    for _ in range(resamples):
        sample = [group[i] for group in by_budget.values() for i in rng.integers(len(group), size=len(group))]
        try:
            draws.append(exponents(sample, start)[0])
        except ValueError:
            failed += 1
    if len(draws) < resamples / 2:
        return not_applicable(f"{failed} of {resamples} bootstrap samples cannot be fitted: the grid barely "
                              "brackets the optimum", figures)  # fmt: skip
    values = np.array([[e.approach_1, e.approach_2, e.approach_3] for e in draws])

    def interval(v: np.ndarray) -> tuple[float, float]:
        low, high = np.percentile(v, [2.5, 97.5])
        return float(low), float(high)

    pairs = {(i, j): interval(values[:, i] - values[:, j]) for i, j in ((0, 1), (0, 2), (1, 2))}
    agree = all(-AGREEMENT_MARGIN <= low and high <= AGREEMENT_MARGIN for low, high in pairs.values())
    a_low, a_high = interval(values[:, 2])
    near_half = a_high < MIDPOINT
    figures["a_approach_3_interval"] = [round(a_low, 3), round(a_high, 3)]
    reasons = (
        f"(a) {'holds' if agree else 'not shown'}: a = {full.approach_1:.3f} (1), {full.approach_2:.3f} (2), "
        f"{full.approach_3:.3f} (3); 95% intervals of the differences "
        + ", ".join(f"{i + 1}-{j + 1} {low:+.3f} to {high:+.3f}" for (i, j), (low, high) in pairs.items())
        + f" (margin +-{AGREEMENT_MARGIN}; {len(runs)} runs, {len(draws)} bootstrap samples, {failed} unfittable)",
        f"(b) {'holds' if near_half else 'not shown'}: approach 3's a {full.approach_3:.3f}, 95% interval "
        f"{a_low:.3f} to {a_high:.3f}, {'below' if near_half else 'not below'} {MIDPOINT:.3f} (Hoffmann 0.46-0.50, "
        "Besiroglu 0.5126, Kaplan 0.73)",
        f"fitted E {fit.E:.3f} against the language's known floor {figures['floor']:.3f}; alpha {fit.alpha:.3f}, "
        f"beta {fit.beta:.3f} (Besiroglu 0.3478, 0.3658)",
    )
    return graded(agree and near_half, agree or near_half, reasons, figures)


@experiment(
    "chinchilla",
    claim=CLAIM,
    config=ChinchillaConfig,
    decide=decide,
    paper_figures={
        "a_approach_1": 0.50,
        "a_approach_2": 0.49,
        "a_approach_3": 0.46,
        "alpha": 0.3478,
        "beta": 0.3658,
        "a_besiroglu": 0.5126,
        "a_kaplan": 0.73,
        "alpha_N_kaplan": 0.076,
        "alpha_D_kaplan": 0.095,
    },  # fmt: skip
    presets={
        "cpu": {},
        "gpu": dict(
            budgets=(1e12, 3e12, 1e13, 3e13, 1e14),
            widths=(64, 96, 128, 192, 256, 384, 512, 768, 1024),
            n_layers=4,
            n_words=256,
            n_topics=64,
            batch_size=64,
            seq_len=128,
            lr=3e-3,
        ),
    },  # fmt: skip
)
def chinchilla(cfg: ChinchillaConfig, ctx: RunContext) -> Measurement:
    """Train (or read back) every point of the IsoFLOP grid, then fit and plot."""
    from pathlib import Path

    from ..data.synthetic import TopicMarkovLanguage
    from ..paths import cache_dir
    from ..scaling import fit_power_law
    from ..scaling.sweep import run_sweep
    from ..scaling.toy_lm import EVAL_SEED, language_point, non_embedding_parameters, train_language_point

    language = dict(n_words=cfg.n_words, n_topics=cfg.n_topics, zipf=cfg.zipf, concentration=cfg.concentration,
                    seed=cfg.language_seed)  # fmt: skip
    source = TopicMarkovLanguage(**language)
    floor = float(source.best_losses(source.sample(cfg.eval_sequences, cfg.seq_len, seed=EVAL_SEED)).mean())
    grid = [
        (budget, width)
        for i, budget in enumerate(cfg.budgets)
        for width in cfg.widths[i : i + cfg.sizes_per_budget]
    ]
    n_of = {w: non_embedding_parameters(w, cfg.n_layers, language, cfg.seq_len) for w in cfg.widths}
    points = [
        language_point(d_model=w, n_layers=cfg.n_layers, tokens=round(b / (6 * n_of[w])), seed=ctx.seed,
                       language=language, seq_len=cfg.seq_len, batch_size=cfg.batch_size, lr=cfg.lr,
                       eval_sequences=cfg.eval_sequences)
        for b, w in grid
    ]  # fmt: skip
    folder = Path(cfg.sweep_folder) if cfg.sweep_folder else cache_dir() / "sweeps" / "chinchilla"
    results = run_sweep(points, train_language_point, folder,
                        progress=lambda items, total: ctx.progress(items, "IsoFLOP sweep", total=total))  # fmt: skip
    runs = [
        SweepRun(budget=b, width=w, parameters=r["parameters"], non_embedding_parameters=r["non_embedding_parameters"],
                 tokens=r["tokens"], loss=r["loss"], curve=r["curve"])
        for (b, w), r in zip(grid, results, strict=True)
    ]  # fmt: skip
    record = ChinchillaRecord(runs=runs, floor=floor, cached=sum(r["cached"] for r in results))

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(cfg.budgets)))
    frontier = []
    for budget, colour in zip(cfg.budgets, colours, strict=True):
        at = [r for r in runs if r.budget == budget]
        left.plot([r.non_embedding_parameters for r in at], [r.loss for r in at], "o-", color=colour,
                  label=f"C = {budget:.0e}")  # fmt: skip
        best = min(at, key=lambda r: r.loss)
        frontier.append((budget, best))
    left.axhline(floor, color="gray", linestyle=":", label=f"known floor {floor:.2f}")
    left.set(xscale="log", xlabel="non-embedding parameters N", ylabel="held-out loss (nats/token)",
             title="IsoFLOP profiles")  # fmt: skip
    left.legend(fontsize=7)
    reducible = fit_power_law([b for b, _ in frontier], [best.loss - floor for _, best in frontier])
    right.loglog(
        [b for b, _ in frontier],
        [best.loss - floor for _, best in frontier],
        "o",
        label="best run per budget",
    )
    right.loglog(cfg.budgets, reducible(np.array(cfg.budgets)), "--",
                 label=f"(C_c/C)^{reducible.alpha:.3f}, R^2 {reducible.r_squared:.3f}")  # fmt: skip
    right.set(xlabel="compute C = 6ND (FLOPs)", ylabel="loss - floor", title="Reducible loss on the frontier")
    right.legend(fontsize=7)
    figure = ctx.figure(fig, "isoflop", "IsoFLOP profiles (left) and the frontier's reducible loss (right).")
    table = Table(
        ["budget C", "d_model", "N (non-embedding)", "N (all)", "tokens D", "D / N", "held-out loss"],
        [[f"{r.budget:.0e}", r.width, r.non_embedding_parameters, r.parameters, r.tokens,
          round(r.tokens / r.non_embedding_parameters, 1), round(r.loss, 4)] for r in runs],
    )  # fmt: skip
    kaplan = Text(
        f"Kaplan-style power law of the frontier's reducible loss (best run per budget minus the known floor "
        f"{floor:.3f}): L - E ~ C^-{reducible.alpha:.3f}, R^2 {reducible.r_squared:.3f} in log-log over "
        f"{len(frontier)} budgets (Kaplan et al.: alpha_C 0.050 for natural language, no floor term). Tokens per "
        f"non-embedding parameter at each budget's best run: "
        + ", ".join(f"{best.tokens / best.non_embedding_parameters:.0f}" for _, best in frontier)
        + " (Hoffmann et al.: about 20 per parameter, counting embeddings)."
    )
    setup = Text(
        f"Language: a Zipf({cfg.zipf}) mixture of {cfg.n_topics} Markov chains over {cfg.n_words} words (Dirichlet "
        f"{cfg.concentration} rows), the same for every seed; its Bayes-optimal loss on the {cfg.eval_sequences} "
        f"held-out sequences is {floor:.3f} nats/token. Models: {cfg.n_layers}-layer toy Llamas of widths "
        f"{', '.join(map(str, cfg.widths))}; each budget trains the next {cfg.sizes_per_budget} widths of the ladder "
        f"for D = C / (6N) tokens (batch {cfg.batch_size} x {cfg.seq_len}, lr {cfg.lr} with 5% warm-up then a "
        f"cosine matched to the run's length, one learning rate for every size). {record.cached} of {len(runs)} "
        "runs were read back from the sweep folder "
        f"({folder})."
    )
    return Measurement(record, [Section("Results", [figure, table, kaplan]), Section("Setup", [setup])])


EXPERIMENT = chinchilla
