"""fact-patching: causal tracing of "The Eiffel Tower is in the city of" -> " Paris" in the embedded model."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment


class FactPatchingConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"
    clean: str = "The Eiffel Tower is in the city of"
    corrupted: str = "The Colosseum is in the city of"
    """Same token length as ``clean``; its answer is the metric's 'bad' token."""
    good: str = " Paris"
    bad: str = " Rome"
    subject_positions: list[int] = [1, 2, 3]
    """Token positions of the subject (' E', 'iffel', ' Tower')."""
    layer_stride: int = 1
    """Patch every k-th layer (and always the last); the attribution estimate always covers every layer."""


def _row_col(values, layers: list[int]) -> tuple[int, int]:
    row, col = divmod(int(values.argmax()), values.shape[1])
    return layers[row], col


CLAIM = Claim(
    paper="Meng et al. 2022, Locating and Editing Factual Associations in GPT (causal tracing)",
    finding="restoring clean hidden states shows two sites that matter: the last subject token in early-to-middle "
    "layers (where MLPs recall the fact) and the last prompt token in late layers (where attention moves it)",
    expectation="in the residual stream, the largest patching effect in the first third of layers sits on a subject "
    "token, and in the last layer on the final token (reproduced); one of the two is partial",
)


@experiment("fact-patching", claim=CLAIM, config=FactPatchingConfig, presets={"cpu": {}, "gpu": {}})
def fact_patching(cfg: FactPatchingConfig, ctx: RunContext) -> Outcome:
    """Patch clean activations into the corrupted run at every (layer, position), for three sites."""
    plt = pyplot()
    import torch

    from ..errors import AlignlabError
    from ..interp import (
        HookedModel,
        activation_patching,
        attribution_patching,
        head_patching,
        logit_difference,
    )
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    clean = tokenizer(cfg.clean, return_tensors="pt")["input_ids"].to(ctx.device)
    corrupted = tokenizer(cfg.corrupted, return_tensors="pt")["input_ids"].to(ctx.device)
    if clean.shape != corrupted.shape:
        raise AlignlabError(
            f"--set clean/corrupted: the prompts must have the same number of tokens ({clean.shape[1]} vs {corrupted.shape[1]})"
        )
    good, bad = (tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in (cfg.good, cfg.bad))
    metric = logit_difference(good, bad)
    tokens = [tokenizer.decode([i]) for i in clean[0].tolist()]

    n = hooked.n_layers
    layers = sorted({*range(0, n, cfg.layer_stride), n - 1})
    effects, estimates = {}, {}
    for kind in ctx.progress(["hook_resid_pre", "hook_attn_out", "hook_mlp_out"], "patching sites", total=3):
        effects[kind] = activation_patching(hooked, clean, corrupted, metric, kind, layers)
        estimates[kind] = attribution_patching(hooked, clean, corrupted, metric, kind)[layers]
        ctx.log(len(effects), site=kind, max_effect=effects[kind].max().item())

    last = clean.shape[1] - 1
    heads = head_patching(hooked, clean, corrupted, metric, layers, positions=[last])
    top_heads = sorted(
        (
            (heads[row, h].item(), f"L{layer}H{h}")
            for row, layer in enumerate(layers)
            for h in range(heads.shape[1])
        ),
        reverse=True,
    )[:5]

    resid = effects["hook_resid_pre"]  # rows: the patched layers
    early_rows = [row for row, layer in enumerate(layers) if layer < n // 3]
    early_argmax = int(resid[early_rows].max(dim=0).values.argmax())
    late_argmax = int(resid[-1].argmax())
    early_ok, late_ok = early_argmax in cfg.subject_positions, late_argmax == clean.shape[1] - 1
    verdict = "reproduced" if early_ok and late_ok else "partial" if early_ok or late_ok else "not_reproduced"
    correlation = {
        k: torch.corrcoef(torch.stack([estimates[k].flatten(), effects[k].flatten()]))[0, 1].item()
        for k in effects
    }

    fig, axes = plt.subplots(1, 4, figsize=(18, 5), sharey=True)
    panels = [(effects[k], f"patching {k}") for k in effects] + [
        (estimates["hook_resid_pre"], "attribution estimate, resid_pre")
    ]
    for ax, (values, title) in zip(axes, panels, strict=True):
        image = ax.imshow(values.numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
        ax.set_xticks(range(len(tokens)), tokens, rotation=60, fontsize=7)
        ax.set(title=title, xlabel="position", ylabel="layer" if ax is axes[0] else None)
        ax.set_yticks(range(len(layers)), layers, fontsize=6)
    fig.colorbar(image, ax=axes, shrink=0.8, label="normalised effect on logit(Paris) - logit(Rome)")
    figure = ctx.figure(
        fig, "patching", "Effect of restoring one clean activation in the corrupted run (1 = fully restores)"
    )
    fig, ax = plt.subplots(figsize=(5, 6))
    image = ax.imshow(heads.numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
    ax.set_yticks(range(len(layers)), layers, fontsize=6)
    ax.set(xlabel="head", ylabel="layer", title="patching one head's output at the last token")
    fig.colorbar(image, ax=ax, label="normalised effect")
    head_figure = ctx.figure(
        fig, "head_patching", "Effect of restoring one attention head's clean output at the final position"
    )

    measured = {
        "early_layers_argmax_position": f"{early_argmax} ({tokens[early_argmax]!r})",
        "last_layer_argmax_position": f"{late_argmax} ({tokens[late_argmax]!r})",
        "max_mlp_effect": round(effects["hook_mlp_out"].max().item(), 3),
        "max_mlp_effect_at": "layer {}, position {}".format(*_row_col(effects["hook_mlp_out"], layers)),
        "max_attn_effect": round(effects["hook_attn_out"].max().item(), 3),
        "max_attn_effect_at": "layer {}, position {}".format(*_row_col(effects["hook_attn_out"], layers)),
        "top_heads_at_last_token": ", ".join(f"{name} {value:.2f}" for value, name in top_heads),
        **{f"attribution_correlation_{k.removeprefix('hook_')}": round(v, 3) for k, v in correlation.items()},
    }
    summary = (
        f"residual-stream patching: the strongest early-layer site is {measured['early_layers_argmax_position']}, the "
        f"strongest last-layer site {measured['last_layer_argmax_position']}; the strongest MLP site is at "
        f"{measured['max_mlp_effect_at']}, attention at {measured['max_attn_effect_at']}; attribution patching "
        f"correlates {correlation['hook_resid_pre']:.2f} with exact patching on the residual stream"
    )
    best_layers = [
        [k, *(round(effects[k][:, p].max().item(), 3) for p in range(len(tokens)))] for k in effects
    ]
    sections = [
        Section("Heat maps", [figure, head_figure]),
        Section("Largest effect per position (over layers)", [Table(["site", *tokens], best_layers)]),
        Section(
            "Setup",
            [
                Text(
                    f"Clean: {cfg.clean!r} (answer {cfg.good!r}); corrupted: {cfg.corrupted!r} (answer {cfg.bad!r}). Metric: logit difference at the last position. {3 * len(layers) * clean.shape[1] + len(layers) * heads.shape[1]} patched forward passes; attribution patching uses one backward pass per site."
                )
            ],
        ),
    ]
    paper = {
        "sites": "last subject token in early-middle MLPs; last token in late attention (GPT-2 XL, GPT-J)"
    }
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = fact_patching
