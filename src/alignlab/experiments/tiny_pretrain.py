"""tiny-pretrain: train a toy transformer from scratch on a synthetic language whose entropy rate is known."""

from pydantic import model_validator

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class TinyPretrainConfig(ExperimentConfig):
    n_words: int = 64
    """Vocabulary of the synthetic Markov language."""
    concentration: float = 0.1
    """Dirichlet concentration of the language's transition rows (lower: more predictable)."""
    seq_len: int = 64
    batch_size: int = 32
    steps: int = 600
    lr: float = 3e-3
    warmup_steps: int = 30
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    d_mlp: int = 256
    eval_every: int = 50
    eval_sequences: int = 256

    @model_validator(mode="after")
    def _consistent(self) -> "TinyPretrainConfig":
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be between 0 and steps ({self.steps})")
        if not 1 <= self.eval_every <= self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) must be between 1 and steps ({self.steps})")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self


CLAIM = Claim(
    paper="Shannon 1948, A Mathematical Theory of Communication (the premise of language modelling)",
    finding="the cross-entropy of any model of a stationary source is bounded below by the source's entropy "
    "rate; a good model trained by next-token prediction approaches it",
    expectation="held-out loss falls from ln(V) through the unigram entropy towards the entropy rate; "
    "reproduced if at least 90% of the unigram-to-entropy-rate gap is closed, partial if at least 50%",
)


@experiment(
    "tiny-pretrain",
    claim=CLAIM,
    config=TinyPretrainConfig,
    presets={
        "cpu": {},
        "gpu": dict(
            n_words=512,
            seq_len=128,
            batch_size=128,
            steps=3000,
            d_model=256,
            n_layers=4,
            d_mlp=1024,
            lr=1e-3,
            warmup_steps=100,
            eval_every=200,
        ),
    },
)
def tiny_pretrain(cfg: TinyPretrainConfig, ctx: RunContext) -> Outcome:
    """Train a toy Llama from scratch on a Markov language and compare its loss with the entropy rate."""
    plt = pyplot()
    import math

    import torch

    from ..data.synthetic import MarkovLanguage
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..training import RunOptions, TrainConfig, causal_lm_step, train

    language = MarkovLanguage(n_words=cfg.n_words, concentration=cfg.concentration, seed=ctx.seed)
    tokenizer = word_tokenizer(language.words)
    offset = tokenizer.convert_tokens_to_ids(language.words[0])  # word i is token offset + i
    model = build_toy_model(
        ToyModelConfig(
            d_model=cfg.d_model,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            d_mlp=cfg.d_mlp,
            max_seq_len=cfg.seq_len,
        ),
        tokenizer,
        seed=ctx.seed,
    ).to(ctx.device)
    n_params = sum(p.numel() for p in model.parameters())

    train_ids = torch.from_numpy(
        language.sample(cfg.steps * cfg.batch_size, cfg.seq_len, seed=ctx.seed + 1) + offset
    )
    eval_ids = torch.from_numpy(language.sample(cfg.eval_sequences, cfg.seq_len, seed=ctx.seed + 2) + offset)
    batches = ({"input_ids": chunk} for chunk in train_ids.split(cfg.batch_size))

    @torch.no_grad()
    def eval_loss() -> float:
        losses = [
            model(input_ids=c.to(ctx.device), labels=c.to(ctx.device)).loss.item() for c in eval_ids.split(64)
        ]
        return sum(losses) / len(losses)

    curve = [(0, eval_loss())]
    progress = iter(
        ctx.progress(
            range(cfg.steps // cfg.eval_every + 1), "tiny-pretrain", total=cfg.steps // cfg.eval_every
        )
    )

    def on_log(step: int, record: dict[str, float]) -> None:
        loss = eval_loss()
        curve.append((step, loss))
        ctx.log(
            step, train_loss=record["loss"], eval_loss=loss, lr=record["lr"], grad_norm=record["grad_norm"]
        )
        next(progress, None)

    train(
        model,
        causal_lm_step,
        batches,
        TrainConfig(steps=cfg.steps, lr=cfg.lr, warmup_steps=cfg.warmup_steps, log_every=cfg.eval_every),
        options=RunOptions(device=ctx.device, on_log=on_log),
    )

    final = curve[-1][1]
    h_rate, h_unigram, h_uniform = language.entropy_rate, language.unigram_entropy, math.log(cfg.n_words)
    gap_closed = (h_unigram - final) / (h_unigram - h_rate)
    verdict = "reproduced" if gap_closed >= 0.9 else "partial" if gap_closed >= 0.5 else "not_reproduced"

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(*zip(*curve, strict=True), marker="o", label="held-out loss")
    for value, label, style in [
        (h_uniform, "uniform ln V", ":"),
        (h_unigram, "unigram entropy", "--"),
        (h_rate, "entropy rate (floor)", "-"),
    ]:
        ax.axhline(value, linestyle=style, color="gray", linewidth=1, label=f"{label} = {value:.2f}")
    ax.set(
        xlabel="optimizer step",
        ylabel="nats / token",
        title=f"Toy Llama ({n_params / 1e6:.2f}M params) on a Markov language",
    )
    ax.legend()
    figure = ctx.figure(
        fig, "loss_curve", "Held-out loss against the source's entropy rate and unigram entropy"
    )

    measured = {
        "final_eval_loss": round(final, 4),
        "entropy_rate": round(h_rate, 4),
        "unigram_entropy": round(h_unigram, 4),
        "gap_closed": round(gap_closed, 3),
        "parameters": n_params,
        "tokens_seen": cfg.steps * cfg.batch_size * cfg.seq_len,
    }
    summary = (
        f"held-out loss {final:.3f} nats/token against an entropy-rate floor of {h_rate:.3f} and a unigram "
        f"entropy of {h_unigram:.3f}: {gap_closed:.0%} of the unigram-to-floor gap closed"
    )
    sections = [
        Section(
            "Loss curve", [figure, Table(["step", "held-out loss"], [[s, round(v, 4)] for s, v in curve])]
        ),
        Section(
            "Setup",
            [
                Text(
                    f"A first-order Markov language over {cfg.n_words} words (Dirichlet rows, concentration "
                    f"{cfg.concentration}); a {cfg.n_layers}-layer toy Llama trained on "
                    f"{measured['tokens_seen']:,} tokens of fresh samples, evaluated on {cfg.eval_sequences} held-out sequences."
                )
            ],
        ),
    ]
    return Outcome(
        measured, verdict, summary, paper_figures={"entropy_rate": "the loss floor"}, sections=sections
    )


EXPERIMENT = tiny_pretrain
