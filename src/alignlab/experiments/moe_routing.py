"""moe-routing: a toy Mixtral trained on a mixture of synthetic domains, with and without the
load-balancing loss; expert load, routing entropy and which experts take which domain."""

from pydantic import model_validator

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class MoERoutingConfig(ExperimentConfig):
    n_domains: int = 4
    words_per_domain: int = 48
    overlap: int = 16
    """Consecutive domains share this many words, so a token alone does not always give its domain away."""
    seq_len: int = 64
    d_model: int = 64
    n_layers: int = 2
    n_experts: int = 8
    experts_per_token: int = 2
    d_mlp: int = 128
    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3
    aux_coefficient: float = 0.02
    """Weight of the Switch-Transformer load-balancing loss in the balanced run (the other run uses 0)."""

    @model_validator(mode="after")
    def _consistent(self) -> "MoERoutingConfig":
        if not 0 <= self.overlap < self.words_per_domain:
            raise ValueError(
                f"overlap ({self.overlap}) must be in [0, words_per_domain={self.words_per_domain})"
            )
        if not 0 < self.experts_per_token <= self.n_experts:
            raise ValueError("experts_per_token must be between 1 and n_experts")
        return self


CLAIM = Claim(
    paper="Shazeer et al. 2017; Fedus et al. 2021 (Switch Transformer); Jiang et al. 2024 (Mixtral)",
    finding="without an auxiliary load-balancing loss, learned top-k routing concentrates tokens on a few "
    "experts; the Switch loss E·Σ_e f_e·P_e keeps the load near uniform; experts then specialise by token "
    "kind more than by domain (Mixtral)",
    expectation="reproduced if the last layer's load CV with the loss is at most half of the CV without it; "
    "partial if lower but not by half; the domain information is reported, not scored",
)


@experiment(
    "moe-routing",
    claim=CLAIM,
    config=MoERoutingConfig,
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, d_mlp=512, steps=3000, batch_size=64, seq_len=128, lr=1e-3),
    },
)
def moe_routing(cfg: MoERoutingConfig, ctx: RunContext) -> Outcome:
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
    eval_ids, eval_domains = sample(256, ctx.seed + 2)

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
                n_heads=4,
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
                steps=cfg.steps, lr=cfg.lr, warmup_steps=min(30, cfg.steps), log_every=max(1, cfg.steps // 20)
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
    cv_without = runs["without"]["routing"][last].load_cv
    cv_with = runs["with"]["routing"][last].load_cv
    verdict = (
        "reproduced"
        if cv_with <= 0.5 * cv_without
        else "partial"
        if cv_with < cv_without
        else "not_reproduced"
    )

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, label in zip(axes, ("without", "with"), strict=True):
        layer = runs[label]["routing"][last]
        ax.imshow(np.array(layer.domain_loads), aspect="auto", cmap="viridis", vmin=0, vmax=1)
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
                    round(layer.load_cv, 3),
                    round(layer.entropy, 3),
                    round(layer.domain_information, 3),
                ]
            )
    measured = {
        "load_cv_without": round(cv_without, 3),
        "load_cv_with": round(cv_with, 3),
        "max_expert_share_without": round(max(runs["without"]["routing"][last].load), 3),
        "max_expert_share_with": round(max(runs["with"]["routing"][last].load), 3),
        "routing_entropy_without": round(runs["without"]["routing"][last].entropy, 3),
        "routing_entropy_with": round(runs["with"]["routing"][last].entropy, 3),
        "domain_information_without": round(runs["without"]["routing"][last].domain_information, 3),
        "domain_information_with": round(runs["with"]["routing"][last].domain_information, 3),
        "eval_loss_without": round(runs["without"]["eval_loss"], 4),
        "eval_loss_with": round(runs["with"]["eval_loss"], 4),
        "uniform_share": round(1 / cfg.n_experts, 3),
    }
    summary = (
        f"last-layer expert-load CV {cv_without:.2f} without the load-balancing loss vs {cv_with:.2f} with it "
        f"(busiest expert {measured['max_expert_share_without']:.0%} vs {measured['max_expert_share_with']:.0%} of "
        f"slots, uniform {1 / cfg.n_experts:.0%}); held-out loss {measured['eval_loss_without']:.3f} vs "
        f"{measured['eval_loss_with']:.3f}"
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
                    "Statistics on 256 held-out rows."
                )
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "switch": "aux loss coefficient 0.01 keeps load balanced; Mixtral: no clear topic experts"
        },
        sections=sections,
    )


EXPERIMENT = moe_routing
