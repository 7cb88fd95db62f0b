"""tuned-lens: train one affine translator per layer of the embedded model and compare it with the logit lens."""

from collections.abc import Sequence

from ..config import Count, LearningRate
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from .registry import Measurement, ModelConfig, RunContext, experiment
from .verdict import Decision, Record, graded

PROMPT, TARGET = "The Eiffel Tower is in the city of", " Paris"


class TunedLensConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"
    layer_stride: Count = 4
    """Train translators for blocks 0, stride, 2·stride, ... (the others stay at identity = logit lens)."""
    seq_len: Count = 32
    train_blocks: Count = 900
    eval_blocks: Count = 32
    steps: Count = 45
    batch_size: Count = 4
    lr: LearningRate = 1e-3


CLAIM = Claim(
    paper="Belrose et al. 2023, Eliciting Latent Predictions from Transformers with the Tuned Lens",
    finding="an affine translator per layer, trained on the forward KL to the final output, decodes every layer "
    "far better than the logit lens (lower KL / perplexity at all layers, most in early ones)",
    expectation="held-out KL(final ‖ lens) of the tuned lens below the logit lens's at every trained layer, "
    "each as a mean over held-out blocks of paired differences clearly below zero (two standard errors; seeds "
    "pooled): reproduced; at more than half of the trained layers: partial",
)


class TunedLensRecord(Record):
    layers: list[int]
    logit_kl: dict[int, list[float]]
    """Layer -> held-out KL of the logit lens, per evaluation block."""
    tuned_kl: dict[int, list[float]]
    train_tokens: int


def decide(records: Sequence[TunedLensRecord]) -> Decision:
    layers = records[0].layers
    gaps = {
        layer: pooled_estimate(
            [
                mean_estimate([t - g for t, g in zip(r.tuned_kl[layer], r.logit_kl[layer], strict=True)])
                for r in records
            ]
        )
        for layer in layers
    }
    better = [layer for layer in layers if gaps[layer].clearly_below(0)]

    def mean_kl(key: str) -> float:
        values = [v for r in records for layer in layers for v in getattr(r, key)[layer]]
        return round(sum(values) / len(values), 3)

    figures = {
        "layers_improved": f"{len(better)}/{len(layers)}",
        "mean_kl_logit": mean_kl("logit_kl"),
        "mean_kl_tuned": mean_kl("tuned_kl"),
    }
    worst = max(layers, key=lambda layer: gaps[layer].value)
    reasons = [
        f"the tuned lens's held-out KL is clearly below the logit lens's at {len(better)} of {len(layers)} trained "
        f"layers; the smallest gain is at block {worst}: {gaps[worst]}"
    ]
    return graded(len(better) == len(layers), len(better) > len(layers) / 2, reasons, figures)


@experiment(
    "tuned-lens",
    claim=CLAIM,
    config=TunedLensConfig,
    decide=decide,
    paper_figures={
        "finding": "tuned lens has lower KL than the logit lens at every layer (Pythia, GPT-NeoX, LLaMA)"
    },
    presets={
        "cpu": {},
        "gpu": dict(layer_stride=1, seq_len=128, train_blocks=4000, eval_blocks=64, steps=250, batch_size=16),
    },
)
def tuned_lens_experiment(cfg: TunedLensConfig, ctx: RunContext) -> Measurement:
    """Fit the tuned lens on the standard library's docstrings and compare held-out KL with the logit lens."""
    plt = pyplot()
    import torch

    from ..data.corpus import train_eval_blocks
    from ..interp import HookedModel
    from ..interp.tuned_lens import lens_kl_per_block, lens_logprobs, train_tuned_lens
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    train_blocks, eval_blocks = train_eval_blocks(tokenizer, cfg.seq_len, cfg.train_blocks, cfg.eval_blocks)
    layers = list(range(0, hooked.n_layers - 1, cfg.layer_stride))

    lens = train_tuned_lens(
        hooked,
        train_blocks,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        layers=layers,
        seed=ctx.seed,
        on_step=lambda step, kl: ctx.log(step, train_kl=kl),
    )
    lens.save(ctx.path / "tuned_lens", model=cfg.model, trained_layers=layers)
    record = TunedLensRecord(
        layers=layers,
        logit_kl=lens_kl_per_block(hooked, eval_blocks, None, layers=layers),
        tuned_kl=lens_kl_per_block(hooked, eval_blocks, lens, layers=layers),
        train_tokens=cfg.steps * cfg.batch_size * cfg.seq_len,
    )
    logit_kl = {layer: sum(v) / len(v) for layer, v in record.logit_kl.items()}
    tuned_kl = {layer: sum(v) / len(v) for layer, v in record.tuned_kl.items()}

    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"].to(ctx.device)
    target_id = tokenizer(TARGET, add_special_tokens=False)["input_ids"][0]
    _, cache = hooked.run_with_cache(ids, names=[f"blocks.{i}.hook_resid_post" for i in layers])
    eiffel_rows = []
    with torch.no_grad():
        for layer in layers:
            resid = cache[f"blocks.{layer}.hook_resid_post"][0, -1]
            row = [layer]
            for which in (None, lens):
                logprobs = lens_logprobs(hooked, resid, layer, which)
                rank = int((logprobs > logprobs[target_id]).sum())
                row += [repr(tokenizer.decode([int(logprobs.argmax())])), rank]
            eiffel_rows.append(row)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(layers, [logit_kl[i] for i in layers], marker="o", label="logit lens")
    ax.plot(layers, [tuned_kl[i] for i in layers], marker="o", label="tuned lens")
    ax.set(xlabel="block", ylabel="KL(final ‖ lens), nats", title=f"{cfg.model}: held-out KL by layer")
    ax.legend()
    figure = ctx.figure(fig, "kl_by_layer", "Held-out forward KL to the model's output, logit vs tuned lens")

    sections = [
        Section(
            "KL by layer",
            [
                figure,
                Table(
                    ["block", "logit lens KL", "tuned lens KL"],
                    [[i, round(logit_kl[i], 3), round(tuned_kl[i], 3)] for i in layers],
                ),
            ],
        ),
        Section(
            f"{PROMPT!r} → {TARGET!r}",
            [
                Table(
                    [
                        "block",
                        "logit lens top-1",
                        f"rank of {TARGET!r}",
                        "tuned lens top-1",
                        f"rank of {TARGET!r}",
                    ],
                    eiffel_rows,
                )
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"Translators (identity-initialised affine maps) for blocks {layers} of {cfg.model}, trained "
                    f"with Adam (lr {cfg.lr}, linear decay) for {cfg.steps} steps of {cfg.batch_size}×{cfg.seq_len} "
                    "tokens of Python standard-library docstrings; KL measured on "
                    f"{cfg.eval_blocks} held-out blocks. The lens is saved in the run folder (tuned_lens/). "
                    f"The paper trains on far more tokens (250 steps of 2^18 tokens); ours is {record.train_tokens:,}."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = tuned_lens_experiment
