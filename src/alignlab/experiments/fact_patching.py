"""fact-patching: causal tracing of "The <landmark> is in the city of" -> its city in the embedded model, over
every pair of landmarks the model knows whose prompts have the same length."""

from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import mean_estimate
from .registry import Measurement, ModelConfig, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable

MIN_PAIRS = 5


class FactPatchingConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"
    template: str = "The {subject} is in the city of"
    """Each landmark of the built-in set fills {subject}; the next token should be its city."""
    max_pairs: Count = 40
    """At most this many (clean, corrupted) pairs are traced."""
    showcase_stride: Count = 1
    """The full heat maps (every site, layer and position, and every head) are drawn for the first pair, for
    every k-th layer."""

    @field_validator("template")
    @classmethod
    def _has_subject(cls, template: str) -> str:
        if template.count("{subject}") != 1:
            raise ValueError("the template must contain {subject} exactly once")
        return template


CLAIM = Claim(
    paper="Meng et al. 2022, Locating and Editing Factual Associations in GPT (causal tracing)",
    finding="restoring clean hidden states shows two sites that matter: the last subject token in early-to-middle "
    "layers, where MLPs recall the fact, and the last prompt token in late layers, where attention moves it",
    expectation="over pairs of known landmarks (the corrupted prompt swaps in another landmark with a different "
    "city), in the middle third of the layers: (a) restoring the residual stream at the last subject token "
    "restores more than at any other earlier position, and (b) there, restoring the MLP output restores more "
    "than restoring the attention output; each a mean over pairs of paired differences, clearly above zero "
    "(by two standard errors). Reproduced if both, partial if (a) only; not applicable with fewer than 5 pairs",
)


class TracedPair(Record):
    clean: str
    corrupted: str
    tokens: list[str]
    subject_first: int
    subject_last: int
    """Positions of the subject's first and last tokens."""
    resid_mid: list[list[float]]
    """Effect of restoring resid_pre, (middle-third layers, positions)."""
    mlp_subject: list[float]
    """Effect of restoring the MLP output at the last subject token, per layer."""
    attn_subject: list[float]
    mlp_last: list[float]
    """The same at the final token."""
    attn_last: list[float]


class FactPatchingRecord(Record):
    n_layers: int
    mid_layers: list[int]
    candidates: int
    """Landmarks in the built-in set; pairs count only where the model knows both cities."""
    pairs: list[TracedPair]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def pair_contrasts(pair: TracedPair, mid_layers: Sequence[int]) -> tuple[float, float]:
    """(last subject token minus the best other earlier position, MLP minus attention at the last subject
    token), each averaged over the middle-third layers."""
    by_position = [_mean([row[p] for row in pair.resid_mid]) for p in range(len(pair.tokens))]
    others = [v for p, v in enumerate(by_position) if p not in (pair.subject_last, len(pair.tokens) - 1)]
    site = by_position[pair.subject_last] - max(others)
    mlp_vs_attn = _mean([pair.mlp_subject[layer] - pair.attn_subject[layer] for layer in mid_layers])
    return site, mlp_vs_attn


def _peak_position(pair: TracedPair) -> int:
    by_position = [_mean([row[p] for row in pair.resid_mid]) for p in range(len(pair.tokens))]
    return max(range(len(by_position)), key=by_position.__getitem__)


def decide(records: Sequence[FactPatchingRecord]) -> Decision:
    contrasts = [pair_contrasts(p, r.mid_layers) for r in records for p in r.pairs]
    pairs = [p for r in records for p in r.pairs]
    figures = {"pairs": len(pairs)}
    if len(pairs) < MIN_PAIRS:
        return not_applicable(
            f"only {len(pairs)} landmark pairs the model knows (fewer than {MIN_PAIRS})", figures
        )
    site = mean_estimate([c[0] for c in contrasts])
    mlp = mean_estimate([c[1] for c in contrasts])
    mid = records[0].mid_layers
    on_subject = sum(p.subject_first <= _peak_position(p) <= p.subject_last for p in pairs)
    figures |= {
        "largest_mid_layer_effect_on_a_subject_token": f"{on_subject}/{len(pairs)}",
        "resid_effect_last_subject_token_mid_layers": round(
            _mean([_mean([row[p.subject_last] for row in p.resid_mid]) for p in pairs]), 3
        ),
        "last_subject_minus_best_other_position": round(site.value, 3),
        "mlp_minus_attention_at_last_subject_token": round(mlp.value, 3),
        "mlp_effect_last_subject_token_mid_layers": round(_mean([_mean([p.mlp_subject[i] for i in mid]) for p in pairs]), 3),
        "attention_effect_last_subject_token_mid_layers": round(_mean([_mean([p.attn_subject[i] for i in mid]) for p in pairs]), 3),
    }  # fmt: skip
    reasons = [
        f"middle-third layers {mid[0]}–{mid[-1]}: restoring the last subject token's residual stream beats the "
        f"best other earlier position by {site} over {len(pairs)} pairs",
        f"there the MLP output restores more than the attention output by {mlp}",
    ]
    return graded(site.clearly_above(0) and mlp.clearly_above(0), site.clearly_above(0), reasons, figures)


def landmark_pairs(prompts: Sequence[tuple[str, str, list[int]]]) -> list[tuple[int, int]]:
    """(clean, corrupted) index pairs: each prompt with the next one of the same token length and a different
    answer, cyclically within each length group, so every landmark is traced once as the clean prompt."""
    by_length: dict[int, list[int]] = {}
    for i, (_, _, ids) in enumerate(prompts):
        by_length.setdefault(len(ids), []).append(i)
    pairs = []
    for group in by_length.values():
        for k, i in enumerate(group):
            partner = next(
                (group[(k + j) % len(group)] for j in range(1, len(group)) if prompts[group[(k + j) % len(group)]][1] != prompts[i][1]),
                None,
            )  # fmt: skip
            if partner is not None:
                pairs.append((i, partner))
    return pairs


@experiment(
    "fact-patching",
    claim=CLAIM,
    config=FactPatchingConfig,
    decide=decide,
    seeded=False,
    paper_figures={
        "mlp_minus_attention_at_last_subject_token": "positive: MLPs at the last subject token in early-middle "
        "layers (GPT-2 XL, GPT-J)",
        "last_subject_minus_best_other_position": "positive: the early site is the last subject token",
    },
    presets={"cpu": {}, "gpu": {}},
)
def fact_patching(cfg: FactPatchingConfig, ctx: RunContext) -> Measurement:
    """Trace each known landmark against another of the same length; full heat maps for the first pair."""
    plt = pyplot()
    import torch

    from ..data.builtin_data import load_builtin
    from ..interp import HookedModel, logit_difference
    from ..interp.patching import patch_cells
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    n = hooked.n_layers
    mid_layers = list(range(n // 3, 2 * n // 3))
    landmarks = load_builtin("landmarks", required=("subject", "answer"))
    prompts, known = [], []
    for row in landmarks:
        text = cfg.template.format(subject=row["subject"])
        ids = tokenizer(text)["input_ids"]
        answer = tokenizer(row["answer"], add_special_tokens=False)["input_ids"][0]
        with torch.no_grad():
            top = int(model(input_ids=torch.tensor([ids], device=ctx.device)).logits[0, -1].argmax())
        if top == answer:
            prompts.append((text, row["answer"], ids))
            known.append(row["subject"])
    pairs = landmark_pairs(prompts)[: cfg.max_pairs]

    traced, showcase = [], None
    for i, j in ctx.progress(pairs, "tracing pairs", total=len(pairs)):
        (text, answer, ids), (other_text, other_answer, other_ids) = prompts[i], prompts[j]
        clean = torch.tensor([ids], device=ctx.device)
        corrupted = torch.tensor([other_ids], device=ctx.device)
        good, bad = (tokenizer(a, add_special_tokens=False)["input_ids"][0] for a in (answer, other_answer))
        metric = logit_difference(good, bad)
        tokens = [tokenizer.decode([t]) for t in ids]
        # the subject's tokens: from the first that reaches into it to the first by which it is complete
        start = text.index(known[i])
        subject_first = next(k for k in range(len(ids)) if len(tokenizer.decode(ids[: k + 1])) > start)
        subject_last = next(k for k in range(len(ids)) if known[i] in tokenizer.decode(ids[: k + 1]))
        last = len(ids) - 1
        resid = patch_cells(
            hooked, clean, corrupted, metric, "hook_resid_pre",
            [(layer, p) for layer in mid_layers for p in range(len(ids))],
        ).view(len(mid_layers), len(ids))  # fmt: skip
        per_layer = {
            (kind, position): patch_cells(
                hooked, clean, corrupted, metric, kind, [(layer, position) for layer in range(n)]
            ).tolist()
            for kind in ("hook_mlp_out", "hook_attn_out")
            for position in (subject_last, last)
        }
        traced.append(
            TracedPair(
                clean=text, corrupted=other_text, tokens=tokens, subject_first=subject_first, subject_last=subject_last,
                resid_mid=resid.tolist(),
                mlp_subject=per_layer["hook_mlp_out", subject_last], attn_subject=per_layer["hook_attn_out", subject_last],
                mlp_last=per_layer["hook_mlp_out", last], attn_last=per_layer["hook_attn_out", last],
            )
        )  # fmt: skip
        ctx.log(
            len(traced),
            **dict(
                zip(("site_contrast", "mlp_minus_attn"), pair_contrasts(traced[-1], mid_layers), strict=True)
            ),
        )
        if showcase is None:
            showcase = (clean, corrupted, metric, tokens, text, other_text)
    record = FactPatchingRecord(n_layers=n, mid_layers=mid_layers, candidates=len(landmarks), pairs=traced)

    sections = []
    if showcase is not None:
        sections.append(_showcase(ctx, plt, hooked, cfg.showcase_stride, *showcase))
    rows = []
    for pair in traced:
        site, mlp_vs_attn = pair_contrasts(pair, mid_layers)
        rows.append(
            [
                pair.clean,
                pair.corrupted,
                repr(pair.tokens[pair.subject_last]),
                round(site, 3),
                round(mlp_vs_attn, 3),
            ]
        )
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label in (("mlp_subject", "MLP, last subject token"), ("attn_subject", "attention, last subject token"),
                       ("mlp_last", "MLP, final token"), ("attn_last", "attention, final token")):  # fmt: skip
        curve = (
            [_mean([getattr(p, key)[layer] for p in traced]) for layer in range(n)] if traced else [0.0] * n
        )
        ax.plot(range(n), curve, marker=".", label=label)
    ax.axvspan(mid_layers[0], mid_layers[-1], color="gray", alpha=0.15, label="middle third")
    ax.set(
        xlabel="layer", ylabel="mean normalised effect of restoring", title=f"{len(traced)} landmark pairs"
    )
    ax.legend(fontsize=8)
    curves = ctx.figure(
        fig, "effects_by_layer", "Mean effect of restoring one site's clean output, per layer"
    )
    sections += [
        Section(
            "Over all pairs",
            [
                curves,
                Table(["clean", "corrupted", "last subject token", "subject − best other (mid)", "MLP − attention (mid)"], rows),
            ],
        ),
        Section(
            "Setup",
            [
                Text(
                    f"Template {cfg.template!r}; {len(known)} of {len(landmarks)} built-in landmarks are answered "
                    f"correctly by {cfg.model} and pair with another of equal token length and a different city. "
                    "Metric: logit(clean city) − logit(corrupted city) at the final token, normalised so that 1 "
                    "restores the clean run and 0 is the corrupted one."
                )
            ],
        ),
    ]  # fmt: skip
    return Measurement(record, sections)


def _showcase(ctx, plt, hooked, stride, clean, corrupted, metric, tokens, text, other_text) -> Section:
    from ..interp import attribution_patching, head_patching
    from ..interp.patching import activation_patching

    n = hooked.n_layers
    layers = sorted({*range(0, n, stride), n - 1})
    kinds = ("hook_resid_pre", "hook_attn_out", "hook_mlp_out")
    effects = {k: activation_patching(hooked, clean, corrupted, metric, k, layers) for k in kinds}
    estimate = attribution_patching(hooked, clean, corrupted, metric, "hook_resid_pre")[layers]
    heads = head_patching(hooked, clean, corrupted, metric, layers, positions=[clean.shape[1] - 1])
    fig, axes = plt.subplots(1, 4, figsize=(18, 5), sharey=True)
    panels = [(effects[k], f"patching {k}") for k in kinds] + [(estimate, "attribution estimate, resid_pre")]
    for ax, (values, title) in zip(axes, panels, strict=True):
        image = ax.imshow(values.numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
        ax.set_xticks(range(len(tokens)), tokens, rotation=60, fontsize=7)
        ax.set(title=title, xlabel="position", ylabel="layer" if ax is axes[0] else None)
        ax.set_yticks(range(len(layers)), layers, fontsize=6)
    fig.colorbar(image, ax=axes, shrink=0.8, label="normalised effect")
    grid = ctx.figure(fig, "patching", f"Restoring one clean activation of {text!r} in {other_text!r}")
    fig, ax = plt.subplots(figsize=(5, 6))
    image = ax.imshow(heads.numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
    ax.set_yticks(range(len(layers)), layers, fontsize=6)
    ax.set(xlabel="head", ylabel="layer", title="patching one head's output at the last token")
    fig.colorbar(image, ax=ax, label="normalised effect")
    head_figure = ctx.figure(
        fig, "head_patching", "Restoring one attention head's clean output at the final position"
    )
    return Section(f"One pair in full: {text!r} vs {other_text!r}", [grid, head_figure])


EXPERIMENT = fact_patching
