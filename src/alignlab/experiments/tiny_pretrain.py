"""tiny-pretrain: train a toy transformer from scratch on a synthetic language whose entropy rate is known."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeCount, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, not_applicable


class TinyPretrainConfig(ExperimentConfig):
    n_words: Count = 64
    """Vocabulary of the synthetic Markov language."""
    concentration: PositiveFloat = 0.1
    """Dirichlet concentration of the language's transition rows (lower: more predictable)."""
    seq_len: Count = 64
    batch_size: Count = 32
    steps: Count = 600
    lr: LearningRate = 3e-3
    warmup_steps: NonNegativeCount = 30
    d_model: Count = 64
    n_layers: Count = 2
    n_heads: Count = 4
    d_mlp: Count = 256
    eval_every: Count = 50
    eval_sequences: Count = 256

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
    "reproduced if the share of the unigram-to-entropy-rate gap closed is at least 90% by more than two "
    "standard errors (over held-out sequences, and over seeds when pooled), not reproduced if it is below 50% "
    "by more than two, partial between; not applicable if the language leaves no gap to close (< 0.05 nats)",
)

MIN_GAP = 0.05
"""Nats: a language whose unigram entropy is this close to its entropy rate has no context to learn, and the
share of the gap closed would be a ratio of noise."""


class TinyPretrainRecord(Record):
    final_eval_loss: float
    final_eval_loss_se: float
    """Standard error over held-out sequences (each sequence's mean loss is one observation)."""
    eval_sequences: int
    entropy_rate: float
    unigram_entropy: float
    parameters: int
    tokens_seen: int
    curve: list[tuple[int, float]]
    """(step, held-out loss)."""

    @property
    def gap_closed(self) -> Estimate:
        gap = self.unigram_entropy - self.entropy_rate
        return Estimate(
            (self.unigram_entropy - self.final_eval_loss) / gap,
            self.final_eval_loss_se / gap,
            self.eval_sequences,
        )


def decide(records: Sequence[TinyPretrainRecord]) -> Decision:
    gaps = [r.unigram_entropy - r.entropy_rate for r in records]
    figures = {
        "final_eval_loss": round(sum(r.final_eval_loss for r in records) / len(records), 4),
        "entropy_rate": round(sum(r.entropy_rate for r in records) / len(records), 4),
        "unigram_entropy": round(sum(r.unigram_entropy for r in records) / len(records), 4),
    }
    if min(gaps) < MIN_GAP:
        return not_applicable(
            f"the language's unigram entropy is within {min(gaps):.3f} nats of its entropy rate: no context "
            "to learn, so the share of the gap closed is not meaningful",
            figures,
        )
    closed = pooled_estimate([r.gap_closed for r in records])
    if not closed.finite:
        return not_applicable("the held-out loss is not a finite number", figures)
    figures["gap_closed"] = round(closed.value, 3)
    figures["gap_closed_se"] = round(closed.se, 4)
    reason = (
        f"{closed.value:.1%} ± {closed.se:.1%} of the unigram-to-entropy-rate gap closed "
        f"({len(records)} seed(s), {closed.n} held-out sequences)"
    )
    if closed.clearly_above(0.9):
        return Decision("reproduced", (reason + ": above 90% by more than two standard errors",), figures)
    if closed.clearly_below(0.5):
        return Decision("not_reproduced", (reason + ": below 50% by more than two standard errors",), figures)
    return Decision("partial", (reason + ": not clearly above 90% nor clearly below 50%",), figures)


@experiment(
    "tiny-pretrain",
    claim=CLAIM,
    config=TinyPretrainConfig,
    decide=decide,
    paper_figures={"entropy_rate": "the loss floor", "gap_closed": "→ 1 with enough data and capacity"},
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
def tiny_pretrain(cfg: TinyPretrainConfig, ctx: RunContext) -> Measurement:
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

    eval_ids = torch.from_numpy(language.sample(cfg.eval_sequences, cfg.seq_len, seed=ctx.seed + 2) + offset)
    batches = (  # fresh samples, drawn as they are needed
        {"input_ids": torch.from_numpy(language.sample(cfg.batch_size, cfg.seq_len, seed=seed) + offset)}
        for seed in range(ctx.seed * 1_000_003 + 1, ctx.seed * 1_000_003 + 1 + cfg.steps)
    )

    @torch.no_grad()
    def sequence_losses() -> torch.Tensor:
        """(eval_sequences,): each held-out sequence's mean next-token loss."""
        from ..scoring.logprobs import token_logprobs

        chunks = [c.to(ctx.device) for c in eval_ids.split(64)]
        return torch.cat([-token_logprobs(model(input_ids=c).logits, c).mean(-1).cpu() for c in chunks])

    def eval_loss() -> float:
        return sequence_losses().mean().item()

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

    final_losses = sequence_losses()
    final = final_losses.mean().item()
    h_rate, h_unigram, h_uniform = language.entropy_rate, language.unigram_entropy, math.log(cfg.n_words)

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

    record = TinyPretrainRecord(
        final_eval_loss=final,
        final_eval_loss_se=final_losses.std().item() / math.sqrt(len(final_losses)),
        eval_sequences=len(final_losses),
        entropy_rate=h_rate,
        unigram_entropy=h_unigram,
        parameters=n_params,
        tokens_seen=cfg.steps * cfg.batch_size * cfg.seq_len,
        curve=curve,
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
                    f"{record.tokens_seen:,} tokens of fresh samples, evaluated on {cfg.eval_sequences} held-out sequences."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = tiny_pretrain
