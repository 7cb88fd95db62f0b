"""moe-routing: a toy Mixtral trained on a mixture of synthetic domains, with and without the
load-balancing loss; expert load, routing entropy and which experts take which domain."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeCount, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import heatmap, pyplot
from ..stats import Estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded


class MoERoutingConfig(ExperimentConfig):
    n_domains: Count = 4
    words_per_domain: Count = 48
    overlap: NonNegativeCount = 16
    """Consecutive domains share this many words, so a token alone does not always give its domain away."""
    seq_len: Count = 64
    d_model: Count = 64
    n_layers: Count = 2
    n_heads: Count = 4
    n_experts: Count = 8
    experts_per_token: Count = 2
    d_mlp: Count = 128
    steps: Count = 400
    warmup_steps: NonNegativeCount = 30
    batch_size: Count = 32
    lr: LearningRate = 3e-3
    aux_coefficient: PositiveFloat = 0.02
    """Weight of the Switch-Transformer load-balancing loss in the balanced run (the other run uses 0)."""
    eval_rows: Count = 256

    @model_validator(mode="after")
    def _consistent(self) -> "MoERoutingConfig":
        if not 0 <= self.overlap < self.words_per_domain:
            raise ValueError(
                f"overlap ({self.overlap}) must be in [0, words_per_domain={self.words_per_domain})"
            )
        if not 0 < self.experts_per_token <= self.n_experts:
            raise ValueError("experts_per_token must be between 1 and n_experts")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be at most steps ({self.steps})")
        return self


CLAIM = Claim(
    paper="Shazeer et al. 2017; Fedus et al. 2021 (Switch Transformer); Jiang et al. 2024 (Mixtral)",
    finding="without an auxiliary load-balancing loss, learned top-k routing concentrates tokens on a few "
    "experts; the Switch loss E·Σ_e f_e·P_e keeps the load near uniform; experts then specialise by token "
    "kind more than by domain (Mixtral)",
    expectation="the same model trained twice from one initialisation, without and with the loss; in every MoE "
    "layer, reproduced if the load CV with the loss is below half the CV without it, and partial if only below "
    "the CV without it, each by more than two standard errors (bootstrap over evaluation rows within a seed, "
    "and the spread over seeds when pooled); the domain information is reported, not scored",
)


class LayerLoads(Record):
    cv_without: float
    cv_without_se: float
    cv_with: float
    cv_with_se: float


class MoERoutingRecord(Record):
    layers: list[LayerLoads]
    max_share_without: list[float]
    max_share_with: list[float]
    entropy_without: list[float]
    entropy_with: list[float]
    domain_information_without: list[float]
    domain_information_with: list[float]
    eval_loss_without: float
    eval_loss_with: float
    uniform_share: float


def _contrast(layer: LayerLoads, factor: float) -> Estimate:
    """CV with the loss minus ``factor`` × CV without it (negative: the loss balances by that much)."""
    se = (layer.cv_with_se**2 + factor**2 * layer.cv_without_se**2) ** 0.5
    return Estimate(layer.cv_with - factor * layer.cv_without, se, 1)


def decide(records: Sequence[MoERoutingRecord]) -> Decision:
    n_layers = len(records[0].layers)
    halved = [pooled_estimate([_contrast(r.layers[i], 0.5) for r in records]) for i in range(n_layers)]
    lower = [pooled_estimate([_contrast(r.layers[i], 1.0) for r in records]) for i in range(n_layers)]
    figures = {}
    for i in range(n_layers):
        figures[f"load_cv_layer{i}_without"] = round(
            sum(r.layers[i].cv_without for r in records) / len(records), 3
        )
        figures[f"load_cv_layer{i}_with"] = round(sum(r.layers[i].cv_with for r in records) / len(records), 3)
    figures["uniform_share"] = records[0].uniform_share
    reasons = [
        f"layer {i}: CV with − ½·CV without = {half.value:+.3f} ± {half.se:.3f}; CV with − CV without = "
        f"{diff.value:+.3f} ± {diff.se:.3f} ({len(records)} seed(s))"
        for i, (half, diff) in enumerate(zip(halved, lower, strict=True))
    ]
    return graded(
        all(e.clearly_below(0) for e in halved), all(e.clearly_below(0) for e in lower), reasons, figures
    )


@experiment(
    "moe-routing",
    claim=CLAIM,
    config=MoERoutingConfig,
    decide=decide,
    paper_figures={
        "load CV with the loss (every layer)": "near 0 with coefficient 0.01 (Switch); Mixtral: no clear topic experts"
    },
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, d_mlp=512, steps=3000, batch_size=64, seq_len=128, lr=1e-3),
    },
)
def moe_routing(cfg: MoERoutingConfig, ctx: RunContext) -> Measurement:
    """Train the same toy Mixtral twice (load-balancing loss off and on) and compare their routing."""
    plt = pyplot()
    import numpy as np
    import torch

    from ..data.synthetic import MarkovLanguage
    from ..interp.moe import analyze_routing
    from ..losses import LossOutput
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..training import RunOptions, TrainConfig, train

    stride = cfg.words_per_domain - cfg.overlap
    n_words = stride * (cfg.n_domains - 1) + cfg.words_per_domain
    tokenizer = word_tokenizer([f"w{i}" for i in range(n_words)])
    offset = tokenizer.convert_tokens_to_ids("w0")
    languages = [
        MarkovLanguage(n_words=cfg.words_per_domain, concentration=0.1, seed=ctx.seed + d)
        for d in range(cfg.n_domains)
    ]

    def sample(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(seed)
        domains = rng.integers(0, cfg.n_domains, size=n)
        rows = np.stack(
            [
                languages[d].sample(1, cfg.seq_len, seed=seed * 100_003 + i)[0] + d * stride
                for i, d in enumerate(domains)
            ]
        )
        return torch.from_numpy(rows + offset), torch.from_numpy(domains)

    train_ids, _ = sample(cfg.steps * cfg.batch_size, ctx.seed + 1)
    eval_ids, eval_domains = sample(cfg.eval_rows, ctx.seed + 2)

    def moe_step(model, batch, progress) -> LossOutput:
        out = model(input_ids=batch["input_ids"], labels=batch["input_ids"], output_router_logits=True)
        return LossOutput(out.loss, {"aux_loss": out.aux_loss.item()})

    runs = {}
    for label, coefficient in (("without", 0.0), ("with", cfg.aux_coefficient)):
        model = build_toy_model(
            ToyModelConfig(
                arch="mixtral",
                d_model=cfg.d_model,
                n_layers=cfg.n_layers,
                n_heads=cfg.n_heads,
                d_mlp=cfg.d_mlp,
                max_seq_len=cfg.seq_len,
                n_experts=cfg.n_experts,
                experts_per_token=cfg.experts_per_token,
            ),
            tokenizer,
            seed=ctx.seed,
        ).to(ctx.device)
        model.router_aux_loss_coef = coefficient  # read from the config at construction, so set it here
        history = []
        train(
            model,
            moe_step,
            ({"input_ids": chunk} for chunk in train_ids.split(cfg.batch_size)),
            TrainConfig(
                steps=cfg.steps, lr=cfg.lr, warmup_steps=cfg.warmup_steps, log_every=max(1, cfg.steps // 20)
            ),
            options=RunOptions(
                device=ctx.device,
                on_log=lambda step, record, history=history, label=label: (
                    history.append((step, record["aux_loss"])),
                    ctx.log(step, **{f"loss_{label}": record["loss"], f"aux_{label}": record["aux_loss"]}),
                ),
            ),
        )
        model.eval()
        with torch.no_grad():
            eval_loss = model(input_ids=eval_ids.to(ctx.device), labels=eval_ids.to(ctx.device)).loss.item()
        routing = analyze_routing(
            model, eval_ids.to(ctx.device), eval_domains, cfg.n_domains, cfg.experts_per_token
        )
        runs[label] = {"routing": routing, "eval_loss": eval_loss, "aux_history": history}

    last = cfg.n_layers - 1
    without, with_ = runs["without"]["routing"], runs["with"]["routing"]
    record = MoERoutingRecord(
        layers=[
            LayerLoads(
                cv_without=a.load_cv, cv_without_se=a.load_cv_se, cv_with=b.load_cv, cv_with_se=b.load_cv_se
            )
            for a, b in zip(without, with_, strict=True)
        ],
        max_share_without=[max(layer.load) for layer in without],
        max_share_with=[max(layer.load) for layer in with_],
        entropy_without=[layer.entropy for layer in without],
        entropy_with=[layer.entropy for layer in with_],
        domain_information_without=[layer.domain_information for layer in without],
        domain_information_with=[layer.domain_information for layer in with_],
        eval_loss_without=runs["without"]["eval_loss"],
        eval_loss_with=runs["with"]["eval_loss"],
        uniform_share=1 / cfg.n_experts,
    )

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for ax, label in zip(axes, ("without", "with"), strict=True):
        layer = runs[label]["routing"][last]
        loads = np.array(layer.domain_loads)
        heatmap(ax, loads, range(loads.shape[1]), range(loads.shape[0]), label="share of the domain's tokens",
                vmin=0, vmax=1)  # fmt: skip
        ax.set(
            xlabel="expert (first choice)",
            ylabel="domain",
            title=f"{label} load balancing: CV {layer.load_cv:.2f}, I(D;X) {layer.domain_information:.2f}",
        )
    figure = ctx.figure(
        fig, "domain_expert", f"Share of each domain's tokens routed first to each expert (layer {last})"
    )

    rows = []
    for label in ("without", "with"):
        for layer in runs[label]["routing"]:
            rows.append(
                [
                    label,
                    layer.layer,
                    " ".join(f"{x:.2f}" for x in layer.load),
                    f"{layer.load_cv:.3f} ± {layer.load_cv_se:.3f}",
                    round(layer.entropy, 3),
                    round(layer.domain_information, 3),
                ]
            )
    sections = [
        Section("Domains and experts", [figure]),
        Section(
            "Routing by layer",
            [
                Table(
                    [
                        "load balancing",
                        "layer",
                        "expert load",
                        "load CV",
                        "router entropy",
                        "I(domain; expert)",
                    ],
                    rows,
                )
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"{cfg.n_domains} Markov-language domains over overlapping word ranges ({cfg.words_per_domain} "
                    f"words each, {cfg.overlap} shared with the next); a {cfg.n_layers}-layer toy Mixtral with "
                    f"{cfg.n_experts} experts, top-{cfg.experts_per_token}, trained twice from the same "
                    f"initialisation for {cfg.steps} steps: router_aux_loss_coef 0 and {cfg.aux_coefficient}. "
                    f"Statistics on {cfg.eval_rows} held-out rows; held-out loss {record.eval_loss_without:.3f} "
                    f"without the loss, {record.eval_loss_with:.3f} with it."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = moe_routing
