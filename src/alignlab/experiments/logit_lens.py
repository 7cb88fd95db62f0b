"""logit-lens: where in the embedded model the answer to a factual prompt appears, layer by layer."""

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from .registry import ExperimentConfig, Outcome, RunContext, experiment

PROMPTS = [
    ("The Eiffel Tower is in the city of", " Paris"),
    ("The capital of Japan is", " Tokyo"),
    ("The Colosseum is located in the city of", " Rome"),
    ("The Statue of Liberty is in the city of", " New"),
    ("Berlin is the capital of", " Germany"),
]


class LogitLensConfig(ExperimentConfig):
    model: str = "smollm2-135m-instruct"


CLAIM = Claim(
    paper="nostalgebraist 2020, interpreting GPT: the logit lens",
    finding="decoding each layer's residual stream with the final unembedding shows the prediction forming "
    "gradually: in GPT-2 the final answer is often the top token well before the last layer",
    expectation="for 'The Eiffel Tower is in the city of', ' Paris' climbs in rank through the layers and is the "
    "lens's top-1 token at some layer before the last (reproduced); rising but top-1 only at the last layer is partial",
)


@experiment("logit-lens", claim=CLAIM, config=LogitLensConfig, presets={"cpu": {}, "gpu": {}})
def logit_lens_experiment(cfg: LogitLensConfig, ctx: RunContext) -> Outcome:
    """The logit lens on five factual prompts; the Eiffel prompt decides the verdict."""
    plt = pyplot()

    from ..interp import HookedModel, logit_lens
    from ..models import load_model

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    rows, curves = [], {}
    for prompt, target in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(ctx.device)
        target_id = tokenizer(target, add_special_tokens=False)["input_ids"][0]
        lens = logit_lens(hooked, ids)  # (n_layers, V)
        ranks = (lens > lens[:, target_id : target_id + 1]).sum(-1).tolist()
        probs = lens[:, target_id].exp().tolist()
        top1 = [tokenizer.decode([i]) for i in lens.argmax(-1).tolist()]
        first_top1 = next((i for i, r in enumerate(ranks) if r == 0), None)
        first_top100 = next((i for i, r in enumerate(ranks) if r < 100), None)
        curves[prompt] = (ranks, probs)
        rows.append([prompt, target, top1[-1], ranks[-1], round(probs[-1], 3), first_top100, first_top1])
        ctx.log(len(rows), final_rank=ranks[-1], final_prob=probs[-1])

    n = hooked.n_layers
    ranks, probs = curves[PROMPTS[0][0]]
    first_top1 = rows[0][6]
    if first_top1 is not None and first_top1 < n - 1:
        verdict = "reproduced"
    elif ranks[-1] == 0 and ranks[-1] < ranks[n // 2]:
        verdict = "partial"
    else:
        verdict = "not_reproduced"

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for prompt, target in PROMPTS:
        r, p = curves[prompt]
        left.plot(range(n), [x + 1 for x in r], marker=".", label=f"{target.strip()!r}")
        right.plot(range(n), p, marker=".", label=f"{target.strip()!r}")
    left.set(
        yscale="log",
        xlabel="layer",
        ylabel="rank of the answer (1 = top)",
        title="Rank of the answer under the logit lens",
    )
    right.set(
        xlabel="layer",
        ylabel="probability of the answer",
        title="Probability of the answer under the logit lens",
    )
    left.invert_yaxis()
    left.legend(fontsize=8)
    figure = ctx.figure(
        fig, "logit_lens", f"{cfg.model}: each layer's residual stream through the final norm and unembedding"
    )

    measured = {
        "paris_first_top1_layer": first_top1,
        "paris_first_top100_layer": rows[0][5],
        "paris_final_probability": round(probs[-1], 3),
        "paris_rank_at_middle_layer": ranks[n // 2],
        "n_layers": n,
        "prompts_answered_correctly": sum(r[3] == 0 for r in rows),
    }
    summary = (
        f"' Paris' has rank {ranks[n // 2] + 1} at layer {n // 2}, enters the top 100 at layer {rows[0][5]} and is top-1 from "
        f"layer {first_top1} of {n} (final probability {probs[-1]:.2f}); {measured['prompts_answered_correctly']} of "
        f"{len(PROMPTS)} prompts end with the expected answer on top"
    )
    sections = [
        Section(
            "Results",
            [
                figure,
                Table(
                    [
                        "prompt",
                        "answer",
                        "final top-1",
                        "final rank",
                        "final p",
                        "first layer in top 100",
                        "first layer top-1",
                    ],
                    rows,
                ),
            ],
        ),
        Section(
            "Method",
            [
                Text(
                    "Layer i's lens: log_softmax(W_U · norm_final(resid_post_i)) at the last prompt position, read through hooks on the unmodified model; at the last layer it equals the model's own output."
                )
            ],
        ),
    ]
    paper = {"paris_first_top1_layer": "GPT-2: often top-1 in middle-to-late layers"}
    return Outcome(measured, verdict, summary, paper_figures=paper, sections=sections)


EXPERIMENT = logit_lens_experiment
