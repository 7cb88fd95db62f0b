"""emergence-mirage: the same models of several sizes scored by exact match and by per-token metrics on
multi-digit addition (Schaeffer et al. 2023): is the 'emergent' jump a property of the models or of the metric?"""

import random
from collections.abc import Sequence

import numpy as np
from pydantic import field_validator, model_validator

from ..config import Count, LearningRate, NonNegativeCount
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import bootstrap_interval
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable


class EmergenceConfig(ExperimentConfig):
    digits: Count = 3
    """Operands have this many digits (zero-padded); the sum is written with one more."""
    widths: tuple[Count, ...] = (8, 16, 24, 32, 48, 64)
    """d_model of each model (2 layers, 4 heads): the scale axis."""
    n_layers: Count = 2
    steps: Count = 1500
    """Training steps of every model (the same data and steps: only the size differs)."""
    batch_size: Count = 64
    lr: LearningRate = 3e-3
    warmup_steps: NonNegativeCount = 50
    eval_problems: Count = 1000

    @field_validator("widths")
    @classmethod
    def _widths(cls, widths: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(widths)) < 3 or any(w % 8 for w in widths):
            raise ValueError(
                "give at least three different widths, each a multiple of 8 (4 heads of an even width)"
            )
        return tuple(sorted(set(widths)))

    @model_validator(mode="after")
    def _warmup(self) -> "EmergenceConfig":
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be at most steps ({self.steps})")
        return self


CLAIM = Claim(
    paper="Schaeffer, Miranda & Koyejo 2023, Are Emergent Abilities of Large Language Models a Mirage?",
    finding="abilities that look emergent (a sharp, unpredictable jump with scale) under a discontinuous metric "
    "such as exact match change smoothly under a continuous one such as per-token accuracy or token edit "
    "distance; over 92% of emergent abilities on BIG-Bench are reported under exact match or multiple-choice grade",
    expectation="toy Llamas of six widths trained identically on 3-digit addition; sharpness of a metric across "
    "sizes = its largest rise between neighbouring sizes over its total range. (a) Exact match is sharper than "
    "per-token accuracy and (b) sharper than 1 - normalised edit distance, each with the 95% bootstrap interval "
    "(over test problems) of the difference above 0. Reproduced if both, partial if one; not applicable if exact "
    "match does not rise by 0.1 over the sizes (no jump to explain)",
)


class EmergenceRecord(Record):
    widths: list[int]
    parameters: list[int]
    exact: list[list[int]]
    """[size][problem]: 1 when the greedy answer is exactly right."""
    per_token: list[list[float]]
    """[size][problem]: share of answer digits right, position by position."""
    edit_score: list[list[float]]
    """[size][problem]: 1 - Levenshtein distance / answer length."""


def sharpness(curve: np.ndarray) -> float:
    """Largest rise between neighbouring sizes over the curve's whole range (1: all change in one step)."""
    span = float(curve.max() - curve.min())
    return float(np.max(np.diff(curve)) / span) if span > 0 else float("nan")


def decide(records: Sequence[EmergenceRecord]) -> Decision:
    r = records[0]
    if not r.exact or not r.exact[0]:
        return not_applicable("no test problems")
    exact = np.concatenate([np.array(x.exact, dtype=float) for x in records], axis=1)  # (sizes, problems)
    tokens = np.concatenate([np.array(x.per_token) for x in records], axis=1)
    edits = np.concatenate([np.array(x.edit_score) for x in records], axis=1)
    rise = float(exact.mean(1).max() - exact.mean(1).min())
    figures = {
        "exact_match_by_size": [round(float(v), 3) for v in exact.mean(1)],
        "per_token_accuracy_by_size": [round(float(v), 3) for v in tokens.mean(1)],
        "exact_match_sharpness": round(sharpness(exact.mean(1)), 3),
        "per_token_sharpness": round(sharpness(tokens.mean(1)), 3),
    }
    if rise < 0.1:
        return not_applicable(f"exact match rises by {rise:.2f} over the sizes: no jump to explain", figures)
    stacked = np.stack([exact, tokens, edits], axis=2).transpose(1, 0, 2)  # (problems, sizes, metrics)

    def gap(metric: int):
        return bootstrap_interval(stacked, lambda d: sharpness(d[:, :, 0].mean(0)) - sharpness(d[:, :, metric].mean(0)),
                                  resamples=1000)  # fmt: skip

    (a_value, a_low, a_high), (b_value, b_low, b_high) = gap(1), gap(2)
    a, b = a_low > 0, b_low > 0
    reasons = (
        f"(a) {'holds' if a else 'not shown'}: sharpness of exact match minus per-token accuracy {a_value:+.3f} "
        f"(95% bootstrap {a_low:+.3f} to {a_high:+.3f}, {exact.shape[1]} problems)",
        f"(b) {'holds' if b else 'not shown'}: minus 1 - edit distance {b_value:+.3f} ({b_low:+.3f} to {b_high:+.3f})",
    )
    return graded(a and b, a or b, reasons, figures)


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two token sequences (NLTK's, unit costs)."""
    from nltk import edit_distance

    return edit_distance(a, b)


def problem_text(a: int, b: int, digits: int) -> tuple[str, str]:
    """('a1 a2 a3 + b1 b2 b3 =', 's1 s2 s3 s4'): zero-padded, one token per digit."""
    return (f"{' '.join(f'{a:0{digits}d}')} + {' '.join(f'{b:0{digits}d}')} =",
            " ".join(f"{a + b:0{digits + 1}d}"))  # fmt: skip


@experiment(
    "emergence-mirage",
    claim=CLAIM,
    config=EmergenceConfig,
    decide=decide,
    paper_figures={"share_of_emergent_abilities_under_exact_match_or_mcg": "> 0.92"},
    presets={"cpu": {}, "gpu": dict(digits=5, widths=(16, 32, 64, 128, 256, 512), n_layers=4, steps=5000)},
)
def emergence(cfg: EmergenceConfig, ctx: RunContext) -> Measurement:
    """Train one toy model per width on the same addition problems, then score each three ways."""
    plt = pyplot()
    from ..data.formats import CompletionExample
    from ..generation import HFGenerator, SamplingParams
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..training import RunOptions, TrainConfig, train_sft

    rng = random.Random(ctx.seed)
    top = 10**cfg.digits
    test = set()
    while len(test) < cfg.eval_problems:
        test.add((rng.randrange(top), rng.randrange(top)))
    train = []
    while len(train) < cfg.steps * cfg.batch_size:
        pair = (rng.randrange(top), rng.randrange(top))
        if pair not in test:
            train.append(pair)
    examples = [CompletionExample(*problem_text(a, b, cfg.digits)) for a, b in train]
    test_prompts, answers = zip(*(problem_text(a, b, cfg.digits) for a, b in sorted(test)), strict=True)
    tokenizer = word_tokenizer([str(d) for d in range(10)] + ["+", "="])

    exact, per_token, edit, parameters = [], [], [], []
    for width in ctx.progress(cfg.widths, "training one model per size", total=len(cfg.widths)):
        model = build_toy_model(ToyModelConfig(d_model=width, n_layers=cfg.n_layers, d_mlp=4 * width, max_seq_len=4 * cfg.digits + 8),
                                tokenizer, seed=ctx.seed).to(ctx.device)  # fmt: skip
        parameters.append(sum(p.numel() for p in model.parameters()))
        train_sft(model, tokenizer, examples,
                  TrainConfig(steps=cfg.steps, lr=cfg.lr, warmup_steps=cfg.warmup_steps, log_every=max(cfg.steps // 10, 1)),
                  batch_size=cfg.batch_size, chat=False,
                  options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=ctx.logger(f"d{width}")))  # fmt: skip
        outputs = HFGenerator(model.eval(), tokenizer, chat=False, batch_size=500).generate(
            list(test_prompts), SamplingParams(max_new_tokens=cfg.digits + 1)
        )
        got = [o.text.split() for o in outputs]
        want = [a.split() for a in answers]
        exact.append([int(g == w) for g, w in zip(got, want, strict=True)])
        per_token.append(
            [sum(x == y for x, y in zip(g, w, strict=False)) / len(w) for g, w in zip(got, want, strict=True)]
        )
        edit.append([1 - min(levenshtein(g, w), len(w)) / len(w) for g, w in zip(got, want, strict=True)])
    record = EmergenceRecord(widths=list(cfg.widths), parameters=parameters, exact=exact, per_token=per_token,
                             edit_score=edit)  # fmt: skip

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, values, colour in (("exact match", exact, "tab:red"), ("per-token accuracy", per_token, "tab:blue"),
                                  ("1 - normalised edit distance", edit, "tab:green")):  # fmt: skip
        ax.plot(parameters, [float(np.mean(v)) for v in values], "o-", color=colour, label=label)
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="score on held-out problems", ylim=(0, 1.02),
           title=f"{cfg.digits}-digit addition, {len(test_prompts)} held-out problems")  # fmt: skip
    ax.legend(fontsize=8)
    figure = ctx.figure(fig, "emergence", "The same models under three metrics.")
    table = Table(
        ["d_model", "parameters", "exact match", "per-token accuracy", "1 - edit distance"],
        [[w, p, round(float(np.mean(e)), 3), round(float(np.mean(t)), 3), round(float(np.mean(d)), 3)]
         for w, p, e, t, d in zip(cfg.widths, parameters, exact, per_token, edit, strict=True)],
    )  # fmt: skip
    setup = Text(
        f"One {cfg.n_layers}-layer toy Llama per width, each trained for {cfg.steps} steps (batch {cfg.batch_size}) on "
        f"the same {len(examples)} random {cfg.digits}-digit sums (held-out problems excluded), answers zero-padded to "
        f"{cfg.digits + 1} digits, one token per digit; greedy answers scored by exact match, by the share of digits "
        "right position by position, and by 1 - Levenshtein distance / answer length."
    )
    return Measurement(record, [Section("Results", [figure, table]), Section("Setup", [setup])])


EXPERIMENT = emergence
