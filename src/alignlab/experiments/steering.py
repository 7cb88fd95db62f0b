"""steering: representation engineering on the embedded model. A reading vector for refusal, from contrast
pairs of harmful requests and harmless look-alikes (Zou et al. 2023; the difference of means, as Arditi et al.
2024 take it), is added to the residual stream; how much it moves the model towards refusing harmless
requests, at what cost to unrelated text, beside a random direction of the same size and beside the decoder
direction of the SAE latent that best separates the pairs.
"""

import math
from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate, pooled_estimate
from ._residual_sae import ResidualSiteConfig, resid_post_site, train_residual_sae
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

DIRECTIONS = ("reading", "random", "sae")


class SteeringConfig(ResidualSiteConfig):
    coefficients: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    """Steering strengths, in units of the mean residual-stream norm at the layer; the verdict compares the
    largest with 0."""
    train_pairs: Count = 12
    """Contrast pairs (harmful request, harmless look-alike) the reading vector is read from; the rest are held
    out."""
    benign_questions: Count = 24
    """Built-in harmless questions added to the held-out look-alikes as prompts to steer."""
    sae_train_blocks: Count = 240
    sae_steps: Count = 200
    side_effect_blocks: Count = 16
    """Unrelated text (standard-library docstrings, 64 tokens a block) whose loss the steering may raise."""

    @field_validator("coefficients")
    @classmethod
    def _starts_at_zero(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if len(values) < 2 or values[0] != 0 or list(values) != sorted(values):
            raise ValueError("coefficients must rise from 0, with at least one above it")
        return values


CLAIM = Claim(
    paper="Zou et al. 2023, Representation Engineering; Arditi et al. 2024, Refusal in Language Models Is "
    "Mediated by a Single Direction",
    finding="a direction read from the difference of activations on contrast pairs controls the behaviour: "
    "adding the refusal direction makes a chat model refuse harmless requests, growing with the coefficient, "
    "while unrelated behaviour is largely kept",
    expectation="the reading vector at one residual layer of the embedded model (difference of mean last-token "
    "activations, harmful minus harmless look-alike, on training pairs) is added at every position with a "
    "coefficient in units of the mean residual norm. On held-out harmless prompts, paired by prompt: (a) log "
    "P(the reply opens with a stock refusal) at the largest coefficient minus at 0 is clearly above zero, and "
    "(b) that shift minus the shift from a random direction of the same norm is clearly above zero, each by two "
    "standard errors pooled over seeds. Reproduced if both, partial if (a) only. Reported, not scored: the loss "
    "on unrelated text at each coefficient (side effects), and steering along the decoder direction of the SAE "
    "latent that best separates the training pairs",
)


class SteeringRecord(Record):
    coefficients: list[float]
    residual_norm: float
    log_p_refusal: dict[str, list[list[float]]]
    """Direction → per coefficient, log P(refusal opening) per held-out harmless prompt."""
    harmful_log_p_refusal: list[list[float]]
    """Held-out harmful prompts, the reading vector subtracted, per coefficient (reported)."""
    side_effect_nll: dict[str, list[float]]
    """Direction → per coefficient, mean next-token loss on unrelated text."""
    cosine_reading_sae: float
    sae_latent: int


def _shift(record: SteeringRecord, direction: str) -> list[float]:
    values = record.log_p_refusal[direction]
    return [b - a for a, b in zip(values[0], values[-1], strict=True)]


def decide(records: Sequence[SteeringRecord]) -> Decision:
    reading = pooled_estimate([mean_estimate(_shift(r, "reading")) for r in records])
    over_random = pooled_estimate([
        mean_estimate([a - b for a, b in zip(_shift(r, "reading"), _shift(r, "random"), strict=True)]) for r in records
    ])  # fmt: skip
    sae = pooled_estimate([mean_estimate(_shift(r, "sae")) for r in records])
    top = records[0].coefficients[-1]

    def mean_over(values: list[list[float]]) -> float:
        return sum(sum(v) / len(v) for v in values) / len(values)

    figures = {
        "log_p_refusal_shift_reading": round(reading.value, 3),
        "log_p_refusal_shift_random": round(mean_over([_shift(r, "random") for r in records]), 3),
        "log_p_refusal_shift_sae": round(sae.value, 3),
        f"side_effect_nll_increase_reading_at_{top}": round(
            sum(r.side_effect_nll["reading"][-1] - r.side_effect_nll["reading"][0] for r in records) / len(records), 3
        ),
        f"side_effect_nll_increase_random_at_{top}": round(
            sum(r.side_effect_nll["random"][-1] - r.side_effect_nll["random"][0] for r in records) / len(records), 3
        ),
    }  # fmt: skip
    a, b = reading.clearly_above(0), over_random.clearly_above(0)
    reasons = [
        f"(a) {'holds' if a else 'not shown'}: log P(refusal) on held-out harmless prompts, reading vector at "
        f"{top} minus at 0, {reading}",
        f"(b) {'holds' if b else 'not shown'}: minus the same shift along a random direction {over_random}",
        f"reported: along the SAE latent's decoder direction {sae}",
    ]
    return graded(a and b, a, reasons, figures)


@experiment(
    "steering",
    claim=CLAIM,
    config=SteeringConfig,
    decide=decide,
    paper_figures={},
    presets={
        "cpu": {},
        "gpu": dict(
            model="HuggingFaceTB/SmolLM2-1.7B-Instruct", layer=14, sae_train_blocks=960, sae_steps=600
        ),
    },  # fmt: skip
)
def steering(cfg: SteeringConfig, ctx: RunContext) -> Measurement:
    """Read a refusal direction from contrast pairs and steer the model along it, a random direction and an
    SAE latent's decoder direction."""
    import torch

    from ..data.builtin_data import harm_contrast_pairs, load_builtin, split_pairs
    from ..data.corpus import train_eval_blocks
    from ..evals.scorers import REFUSAL_STARTS
    from ..generation import HFGenerator
    from ..interp import HookedModel
    from ..interp.hooks import add_direction
    from ..interp.sae import last_token_activations
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    site = resid_post_site(hooked, cfg.layer, cfg.model)
    generator = HFGenerator(model, tokenizer)
    train, held = split_pairs(harm_contrast_pairs(), cfg.train_pairs, seed=ctx.seed)
    questions = [r["input"] for r in load_builtin("capability_mcq", ("input",))[: cfg.benign_questions]]
    harmless = [lookalike for _, lookalike in held] + questions

    harmful_states = last_token_activations(hooked, site, tokenizer, [harmful for harmful, _ in train])
    harmless_states = last_token_activations(hooked, site, tokenizer, [lookalike for _, lookalike in train])
    difference = (harmful_states.mean(0) - harmless_states.mean(0)).cpu()
    sae_blocks, side_blocks = train_eval_blocks(tokenizer, 64, cfg.sae_train_blocks, cfg.side_effect_blocks)
    sae, store = train_residual_sae(hooked, site, sae_blocks, steps=cfg.sae_steps, ctx=ctx)
    norm = store.activations.norm(dim=1).mean().item()
    with torch.no_grad():  # the same training states, read through the SAE
        codes = sae.encode(harmful_states).mean(0) - sae.encode(harmless_states).mean(0)
    latent = int(codes.argmax())
    generator_random = torch.Generator().manual_seed(ctx.seed)
    unit = {
        "reading": difference / difference.norm(),
        "random": (r := torch.randn(difference.shape, generator=generator_random)) / r.norm(),
        "sae": (d := sae.feature_direction(latent).float().cpu()) / d.norm(),
    }

    def log_p_refusal(prompts: list[str], hook) -> list[float]:
        with hooked.hooks({site: hook}):
            scores = generator.continuation_logprobs(prompts, REFUSAL_STARTS)
        return [math.log(sum(math.exp(v) for v in row)) for row in scores]

    def side_effect(hook) -> float:
        with hooked.hooks({site: hook}), torch.no_grad():
            losses = [model(input_ids=b[None].to(ctx.device), labels=b[None].to(ctx.device)).loss.item()
                      for b in side_blocks]  # fmt: skip
        return sum(losses) / len(losses)

    log_p = {name: [] for name in DIRECTIONS}
    nll = {name: [] for name in DIRECTIONS}
    harmful_held = [harmful for harmful, _ in held]
    harmful_curve = []
    for c in ctx.progress(cfg.coefficients, "steering coefficients", total=len(cfg.coefficients)):
        for name in DIRECTIONS:
            hook = add_direction(unit[name].to(ctx.device), c * norm)
            log_p[name].append(log_p_refusal(harmless, hook))
            nll[name].append(side_effect(hook))
        harmful_curve.append(
            log_p_refusal(harmful_held, add_direction(unit["reading"].to(ctx.device), -c * norm))
        )
        ctx.log(int(c * 100), **{f"log_p_refusal_{n}": sum(log_p[n][-1]) / len(harmless) for n in DIRECTIONS},
                **{f"nll_{n}": nll[n][-1] for n in DIRECTIONS})  # fmt: skip
    record = SteeringRecord(
        coefficients=list(cfg.coefficients), residual_norm=norm, log_p_refusal=log_p,
        harmful_log_p_refusal=harmful_curve, side_effect_nll=nll,
        cosine_reading_sae=float(unit["reading"] @ unit["sae"]), sae_latent=latent,
    )  # fmt: skip

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in DIRECTIONS:
        left.plot(cfg.coefficients, [sum(v) / len(v) for v in log_p[name]], "o-", label=name)
        right.plot(cfg.coefficients, nll[name], "o-", label=name)
    left.plot(
        cfg.coefficients,
        [sum(v) / len(v) for v in harmful_curve],
        "s--",
        label="reading, subtracted, on harmful",
    )
    left.set(xlabel="coefficient (× mean residual norm)", ylabel="mean log P(refusal opening)",
             title="held-out harmless prompts")  # fmt: skip
    right.set(xlabel="coefficient (× mean residual norm)", ylabel="next-token loss (nats)",
              title="side effects: unrelated text")  # fmt: skip
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure = ctx.figure(fig, "steering", f"Steering at {site}: behaviour and side effects")
    table = Table(
        ["coefficient", *[f"log P(refusal), {n}" for n in DIRECTIONS], "harmful, reading subtracted",
         *[f"loss on unrelated text, {n}" for n in DIRECTIONS]],
        [[c, *[round(sum(log_p[n][i]) / len(harmless), 3) for n in DIRECTIONS],
          round(sum(harmful_curve[i]) / len(harmful_curve[i]), 3), *[round(nll[n][i], 3) for n in DIRECTIONS]]
         for i, c in enumerate(cfg.coefficients)],
    )  # fmt: skip
    text = Text(
        f"Reading vector: the difference of mean last-token activations at {site}, {cfg.train_pairs} harmful "
        f"requests minus their harmless look-alikes. Steered prompts: {len(held)} held-out look-alikes and "
        f"{len(questions)} built-in questions. Coefficients are in units of the mean residual norm ({norm:.1f}). "
        f"The SAE (TopK, k 32, {4 * store.d_in} latents, {len(store)} tokens) latent {latent} separates the pairs "
        f"best; its decoder direction has cosine {record.cosine_reading_sae:.2f} with the reading vector. Refusal is "
        "scored as the summed probability of stock refusal openings, from log-probabilities."
    )
    return Measurement(record, [Section("Plots", [figure]), Section("Results", [text, table])])


EXPERIMENT = steering
