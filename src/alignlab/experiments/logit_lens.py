"""logit-lens: where in the embedded model the answers to factual prompts appear, layer by layer."""

from collections.abc import Sequence

from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import binomial_p_value
from .registry import Measurement, ModelConfig, RunContext, experiment
from .verdict import Decision, Record, not_applicable

ALPHA = 0.05
MIN_PROMPTS = 10
"""Fewer prompts answered correctly than this cannot separate a majority from chance."""


class LogitLensConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"


CLAIM = Claim(
    paper="nostalgebraist 2020, interpreting GPT: the logit lens",
    finding="decoding each layer's residual stream with the final unembedding shows the prediction forming "
    "gradually: in GPT-2 the final answer is often the top token well before the last layer",
    expectation="over the built-in factual prompts that the model answers correctly (its final top-1 is the "
    "expected answer), reproduced if the answer is the lens's top-1 before the final layer on more than half "
    "of them (one-sided exact binomial test against 50%, p < 0.05); partial if not, but the answer's rank "
    "improves with depth (Spearman correlation of layer and log-rank below 0) on more than half of them by "
    "the same test; not applicable if fewer than 10 prompts are answered correctly",
)


class PromptLens(Record):
    prompt: str
    answer: str
    ranks: list[int]
    """Rank of the answer under the lens at each layer (0 = top-1); the last layer is the model's output."""
    final_top1: str

    @property
    def answered(self) -> bool:
        return self.ranks[-1] == 0

    @property
    def first_top1_layer(self) -> int | None:
        return next((i for i, r in enumerate(self.ranks) if r == 0), None)

    @property
    def top1_before_last(self) -> bool:
        first = self.first_top1_layer
        return first is not None and first < len(self.ranks) - 1

    @property
    def rank_trend(self) -> float:
        """Spearman correlation of layer index and log rank: −1 when the answer climbs at every layer."""
        import numpy as np
        from scipy.stats import spearmanr

        if len(set(self.ranks)) < 2:
            return float("nan")
        return float(spearmanr(np.arange(len(self.ranks)), np.log1p(self.ranks)).statistic)


class LogitLensRecord(Record):
    prompts: list[PromptLens]
    n_layers: int


def decide(records: Sequence[LogitLensRecord]) -> Decision:
    answered = [p for r in records for p in r.prompts if p.answered]
    n = len(answered)
    early = sum(p.top1_before_last for p in answered)
    rising = sum(p.rank_trend < 0 for p in answered)
    figures = {
        "prompts_answered": f"{n}/{sum(len(r.prompts) for r in records)}",
        "top1_before_last_layer": f"{early}/{n}",
        "rank_improves_with_depth": f"{rising}/{n}",
    }
    if n < MIN_PROMPTS:
        return not_applicable(f"only {n} prompts answered correctly (fewer than {MIN_PROMPTS})", figures)
    p_early, p_rising = binomial_p_value(early, n), binomial_p_value(rising, n)
    reasons = [
        f"the answer is the lens's top-1 before the final layer on {early}/{n} correctly answered prompts "
        f"(exact binomial p = {p_early:.2g} against half)",
        f"its rank improves with depth on {rising}/{n} (p = {p_rising:.2g})",
    ]
    if p_early < ALPHA:
        return Decision("reproduced", tuple(reasons), figures)
    return Decision("partial" if p_rising < ALPHA else "not_reproduced", tuple(reasons), figures)


@experiment(
    "logit-lens",
    claim=CLAIM,
    config=LogitLensConfig,
    decide=decide,
    seeded=False,
    paper_figures={"top1_before_last_layer": "GPT-2: often top-1 in middle-to-late layers"},
    presets={"cpu": {}, "gpu": {}},
)
def logit_lens_experiment(cfg: LogitLensConfig, ctx: RunContext) -> Measurement:
    """The logit lens at the last token of each built-in factual prompt, all prompts in one batch."""
    plt = pyplot()
    from ..data.builtin_data import load_builtin
    from ..interp import HookedModel, logit_lens
    from ..models import load_model
    from ..scoring.encode import pad

    model, tokenizer = load_model(cfg.model, device=ctx.device)
    hooked = HookedModel(model)
    rows = load_builtin("logit_lens_prompts", required=("prompt", "answer"))
    ids, mask = pad([tokenizer(r["prompt"])["input_ids"] for r in rows], tokenizer.pad_token_id or 0, "right")
    lens = logit_lens(hooked, ids.to(ctx.device), mask.to(ctx.device)).cpu()  # (P, n_layers, V)
    prompts = []
    for row, layers in zip(rows, lens, strict=True):
        target = tokenizer(row["answer"], add_special_tokens=False)["input_ids"][0]
        ranks = (layers > layers[:, target : target + 1]).sum(-1).tolist()
        top1 = tokenizer.decode([int(layers[-1].argmax())])
        prompts.append(PromptLens(prompt=row["prompt"], answer=row["answer"], ranks=ranks, final_top1=top1))
    record = LogitLensRecord(prompts=prompts, n_layers=hooked.n_layers)
    answered = [p for p in prompts if p.answered]
    ctx.log(0, prompts=len(prompts), answered=len(answered))

    n = hooked.n_layers
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for p in answered:
        left.plot(range(n), [r + 1 for r in p.ranks], marker=".", linewidth=0.8, label=p.answer.strip())
    left.set(yscale="log", xlabel="layer", ylabel="rank of the answer (1 = top)", title="Answered prompts")
    left.invert_yaxis()
    left.legend(fontsize=6, ncol=2)
    firsts = [p.first_top1_layer for p in answered]
    right.hist(firsts, bins=range(n + 1), color="tab:blue")
    right.set(
        xlabel="first layer at which the answer is top-1", ylabel="prompts", title="Where the answer forms"
    )
    figure = ctx.figure(
        fig, "logit_lens", f"{cfg.model}: each layer's residual stream through the final norm and unembedding"
    )
    table = Table(
        ["prompt", "answer", "model's answer", "rank at layer 0", f"rank at layer {n // 2}", "first top-1 layer",
         "rank trend (Spearman)"],
        [
            [p.prompt, repr(p.answer), repr(p.final_top1), p.ranks[0], p.ranks[n // 2], p.first_top1_layer,
             round(p.rank_trend, 3)]
            for p in prompts
        ],
    )  # fmt: skip
    sections = [
        Section("Results", [figure, table]),
        Section(
            "Method",
            [
                Text(
                    "Layer i's lens: log_softmax(W_U · norm_final(resid_post_i)) at the last prompt token, read "
                    "through hooks on the unmodified model; at the last layer it equals the model's own output. "
                    f"Only prompts whose final top-1 token is the expected answer count ({len(answered)} of "
                    f"{len(prompts)})."
                )
            ],
        ),
    ]
    return Measurement(record, sections)


EXPERIMENT = logit_lens_experiment
