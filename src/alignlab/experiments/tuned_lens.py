"""tuned-lens: train one affine translator per layer of the embedded model and compare it with the logit lens."""

from pydantic import PositiveInt

from ..errors import AlignlabError
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment

PROMPT, TARGET = "The Eiffel Tower is in the city of", " Paris"


class TunedLensConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"
    layer_stride: PositiveInt = 4
    """Train translators for blocks 0, stride, 2·stride, ... (the others stay at identity = logit lens)."""
    seq_len: PositiveInt = 32
    train_blocks: PositiveInt = 900
    eval_blocks: PositiveInt = 8
    steps: PositiveInt = 45
    batch_size: PositiveInt = 4
    lr: float = 1e-3


CLAIM = Claim(
    paper="Belrose et al. 2023, Eliciting Latent Predictions from Transformers with the Tuned Lens",
    finding="an affine translator per layer, trained on the forward KL to the final output, decodes every layer "
    "far better than the logit lens (lower KL / perplexity at all layers, most in early ones)",
    expectation="held-out KL(final ‖ lens) of the tuned lens below the logit lens's at every trained layer "
    "(reproduced); at most but not all of them: partial",
)


@experiment(
    "tuned-lens",
    claim=CLAIM,
    config=TunedLensConfig,
    presets={
        "cpu": {},
        "gpu": dict(layer_stride=1, seq_len=128, train_blocks=4000, eval_blocks=64, steps=250, batch_size=16),
    },
)
def tuned_lens_experiment(cfg: TunedLensConfig, ctx: RunContext) -> Outcome:
    """Fit the tuned lens on the standard library's docstrings and compare held-out KL with the logit lens."""
    plt = pyplot()
    import torch

    from ..data.corpus import docstring_corpus, token_blocks
    from ..interp import HookedModel
    from ..interp.tuned_lens import lens_kl_by_layer, lens_logprobs, train_tuned_lens
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    blocks = token_blocks(
        tokenizer, docstring_corpus(), cfg.seq_len, max_blocks=cfg.train_blocks + cfg.eval_blocks
    )
    if len(blocks) < cfg.train_blocks + cfg.eval_blocks:
        raise AlignlabError(
            f"--set train_blocks/eval_blocks: the corpus fills only {len(blocks)} blocks of {cfg.seq_len} tokens"
        )
    train_blocks, eval_blocks = blocks[: cfg.train_blocks], blocks[cfg.train_blocks :]
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
    lens.save(ctx.run.path / "tuned_lens", model=cfg.model, trained_layers=layers)
    logit_kl = lens_kl_by_layer(hooked, eval_blocks, None, layers=layers)
    tuned_kl = lens_kl_by_layer(hooked, eval_blocks, lens, layers=layers)
    better = [layer for layer in layers if tuned_kl[layer] < logit_kl[layer]]
    verdict = (
        "reproduced"
        if len(better) == len(layers)
        else "partial"
        if len(better) > len(layers) / 2
        else "not_reproduced"
    )

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

    mean_logit = sum(logit_kl.values()) / len(layers)
    mean_tuned = sum(tuned_kl.values()) / len(layers)
    measured = {
        "trained_layers": layers,
        "logit_lens_kl": {i: round(v, 3) for i, v in logit_kl.items()},
        "tuned_lens_kl": {i: round(v, 3) for i, v in tuned_kl.items()},
        "layers_improved": f"{len(better)}/{len(layers)}",
        "mean_kl_logit": round(mean_logit, 3),
        "mean_kl_tuned": round(mean_tuned, 3),
        "train_tokens": cfg.steps * cfg.batch_size * cfg.seq_len,
    }
    summary = (
        f"tuned lens below the logit lens at {len(better)}/{len(layers)} trained layers; mean held-out KL "
        f"{mean_tuned:.2f} vs {mean_logit:.2f} nats after {measured['train_tokens']:,} training tokens"
    )
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
                    "The paper trains on far more tokens (250 steps of 2^18 tokens); ours is a small CPU budget."
                )
            ],
        ),
    ]
    return Outcome(
        measured,
        verdict,
        summary,
        paper_figures={
            "finding": "tuned lens has lower KL than the logit lens at every layer (Pythia, GPT-NeoX, LLaMA)"
        },
        sections=sections,
    )


EXPERIMENT = tuned_lens_experiment
