"""reward-hacking: four ways a policy optimised against a learned reward drifts from the gold one, on the
synthetic sentiment task: reward-model size, reward-model ensembles, length bias, and DPO pushed to high KL."""

import math
from collections.abc import Sequence

from pydantic import field_validator

from ..config import Count, LearningRate, NonNegativeFloat, PositiveFloat
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import Estimate, mean_estimate, pooled_estimate
from ._sentiment_config import SentimentConfig, increasing_sizes
from .registry import Measurement, RunContext, experiment
from .verdict import Decision, Record, graded

PARTS = ("rm_size", "ensemble", "length", "dpo")


class RewardHackingConfig(SentimentConfig):
    repetition_penalty: PositiveFloat = 1.0
    """Gold = sentiment − this × the share of repeated words (the term proxies learn last, as in
    ``overoptimization``)."""
    rm_pairs: Count = 512
    rm_steps: Count = 200
    rm_sizes: list[Count] = [16, 64]
    """Widths (d_model) of the reward models' trunks, each pre-trained on the task's language like the policy."""
    ensemble_size: Count = 4
    """Reward models of the policy's width trained on the same pairs from different seeds (Coste et al.)."""
    uwo_weight: NonNegativeFloat = 0.5
    """Uncertainty-weighted optimisation: mean − this × variance over the ensemble (reported)."""
    bon_prompts: Count = 24
    bon_samples: Count = 512
    length_bias: NonNegativeFloat = 0.2
    """The labels of the length-biased reward model add this × (words / completion_length) to the gold reward
    before the Bradley-Terry draw: a weak preference for longer replies, as human raters have."""
    min_length: Count = 4
    """Candidates for the length part are base samples cut at a uniform length in [min_length,
    completion_length] words; the gold reward is per word, so length alone earns nothing."""
    policy_widths: list[Count] = [128]
    """Wider policies (pre-trained like the base) whose best-of-n samples the widest RM scores (reported)."""
    dpo_betas: list[PositiveFloat] = [0.1, 0.01]
    dpo_steps: Count = 300
    dpo_lr: LearningRate = 1e-3
    dpo_batch_size: Count = 32
    eval_every: Count = 50

    @field_validator("rm_sizes")
    @classmethod
    def _growing(cls, sizes: list[int]) -> list[int]:
        return increasing_sizes(sizes, "rm_sizes", "widths")


CLAIM = Claim(
    paper="Gao et al. 2022; Coste et al. 2023, Reward Model Ensembles Help Mitigate Overoptimization; Singhal "
    "et al. 2023, A Long Way to Go: Investigating Length Correlations in RLHF; Rafailov et al. 2024, Scaling "
    "Laws for Reward Model Overoptimization in Direct Alignment Algorithms",
    finding="larger reward models are overoptimised less; ensembles (worst-case) mitigate overoptimisation; "
    "reward models learn raters' length preference and optimisation against them lengthens replies; DPO "
    "overoptimises too: past some KL the gold reward falls",
    expectation="four parts on the sentiment task, each paired over prompts with two standard errors pooled "
    "over seeds: (rm_size) best-of-n gold at the largest n, largest-trunk RM minus smallest, clearly above 0; "
    "(ensemble) best-of-n gold at the largest n, the worst-case (min) ensemble minus the mean of its members "
    "used alone, clearly above 0; (length) words in the best-of-n pick at the largest n, the RM trained on "
    "labels with a weak length preference minus the RM on the same pairs labelled by gold alone, clearly above 0; "
    "(dpo) for some beta, the gold reward at the last checkpoint is clearly below its peak while the KL to the "
    "base has grown. Reproduced if all four, partial if one to three. Reported, not scored: best-of-n from wider "
    "policies against the same RM (policy size)",
)


class BestOfNCurve(Record):
    gold: list[list[float]]
    """Per n = 1, 2, 4, ..., the expected gold reward of the best-of-n pick, per prompt."""
    proxy: list[list[float]] | None = None


class DPOCurve(Record):
    kl: list[float]
    gold: list[list[float]]
    """Per checkpoint (step 0 first), the gold reward per evaluation prompt."""


class RewardHackingRecord(Record):
    ns: list[int]
    rm_size: dict[str, BestOfNCurve]
    """Trunk width -> best-of-n curve."""
    ensemble: dict[str, BestOfNCurve]
    """"member_i", "mean", "min", "uwo" -> best-of-n curve."""
    length_words: dict[str, list[list[float]]]
    """"biased" / "unbiased" -> per n, expected words in the pick, per prompt."""
    length_gold: dict[str, list[list[float]]]
    length_label_agreement: dict[str, float]
    """Share of each label set that prefers the longer reply (pairs of unequal length)."""
    dpo: dict[str, DPOCurve]
    """beta -> curve."""
    policy_size: dict[str, BestOfNCurve] = {}
    """Policy width -> best-of-n curve against the widest RM (the base policy's width included)."""
    rm_accuracy: dict[str, float]


def _paired(records: Sequence, get_a, get_b) -> Estimate:
    return pooled_estimate([
        mean_estimate([a - b for a, b in zip(get_a(r), get_b(r), strict=True)]) for r in records
    ])  # fmt: skip


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def dpo_fall(records: Sequence[RewardHackingRecord], beta: str) -> tuple[int, Estimate, float]:
    """The checkpoint with the highest mean gold over seeds, the gold there minus at the last checkpoint
    (paired over prompts, pooled over seeds), and the KL at the last minus at the peak (mean over seeds)."""
    curves = [r.dpo[beta] for r in records]
    means = [_mean([_mean(c.gold[i]) for c in curves]) for i in range(len(curves[0].kl))]
    top = max(range(len(means)), key=means.__getitem__)
    fall = _paired(curves, lambda c: c.gold[top], lambda c: c.gold[-1])
    return top, fall, _mean([c.kl[-1] - c.kl[top] for c in curves])


def decide(records: Sequence[RewardHackingRecord]) -> Decision:
    sizes = list(records[0].rm_size)
    members = [k for k in records[0].ensemble if k.startswith("member")]
    size_gain = _paired(
        records, lambda r: r.rm_size[sizes[-1]].gold[-1], lambda r: r.rm_size[sizes[0]].gold[-1]
    )
    ensemble_gain = _paired(
        records,
        lambda r: r.ensemble["min"].gold[-1],
        lambda r: [_mean(v) for v in zip(*(r.ensemble[m].gold[-1] for m in members), strict=True)],
    )
    longer = _paired(
        records, lambda r: r.length_words["biased"][-1], lambda r: r.length_words["unbiased"][-1]
    )
    falls = {beta: dpo_fall(records, beta) for beta in records[0].dpo}
    held = {
        "rm_size": size_gain.clearly_above(0),
        "ensemble": ensemble_gain.clearly_above(0),
        "length": longer.clearly_above(0),
        "dpo": any(fall.clearly_above(0) and kl_growth > 0 for _, fall, kl_growth in falls.values()),
    }
    figures = {
        f"bon_gold_gain_rm_{sizes[-1]}_minus_{sizes[0]}": round(size_gain.value, 3),
        "bon_gold_gain_min_ensemble_minus_single": round(ensemble_gain.value, 3),
        "bon_words_biased_minus_unbiased": round(longer.value, 2),
        **{f"dpo_gold_fall_beta_{beta}": round(fall.value, 3) for beta, (_, fall, _) in falls.items()},
        **{
            f"bon_gold_gain_policy_{width}": round(_mean([_mean(r.policy_size[width].gold[-1]) - _mean(r.policy_size[width].gold[0]) for r in records]), 3)
            for width in records[0].policy_size
        },
    }  # fmt: skip
    ns = records[0].ns
    reasons = [
        f"(rm_size) {'holds' if held['rm_size'] else 'not shown'}: best-of-{ns[-1]} gold, RM width {sizes[-1]} "
        f"minus {sizes[0]}, {size_gain}",
        f"(ensemble) {'holds' if held['ensemble'] else 'not shown'}: best-of-{ns[-1]} gold, min of "
        f"{len(members)} RMs minus their mean alone, {ensemble_gain}",
        f"(length) {'holds' if held['length'] else 'not shown'}: words in the best-of-{ns[-1]} pick, "
        f"length-biased RM minus unbiased, {longer}",
        f"(dpo) {'holds' if held['dpo'] else 'not shown'}: "
        + "; ".join(
            f"beta {beta}: gold at the peak (checkpoint {top}) minus at the end {fall}, KL {kl_growth:+.2f} since"
            for beta, (top, fall, kl_growth) in falls.items()
        ),
    ]
    return graded(all(held.values()), any(held.values()), reasons, figures)


@experiment(
    "reward-hacking",
    claim=CLAIM,
    config=RewardHackingConfig,
    decide=decide,
    paper_figures={
        "rm_size": "larger RMs: higher gold at the same KL, peak further out (Gao et al., 3M-3B RMs)",
        "ensemble": "worst-case and UWO ensembles of 5 RMs nearly remove best-of-n overoptimisation (Coste et al.)",
        "length": "length alone reproduces most of RLHF's reward gain on several datasets (Singhal et al.)",
        "dpo": "DPO, IPO and SLiC show hump-shaped gold reward against KL, like RLHF (Rafailov et al. 2024)",
    },
    presets={
        "cpu": {},
        "gpu": dict(d_model=256, n_layers=4, pretrain_steps=2000, rm_pairs=4096, rm_steps=1000,
                    rm_sizes=[32, 128, 512], policy_widths=[512], bon_prompts=128, bon_samples=4096, dpo_steps=2000,
                    eval_every=200),
    },
)  # fmt: skip
def reward_hacking(cfg: RewardHackingConfig, ctx: RunContext) -> Measurement:
    """Best-of-n against RMs of two widths, an ensemble and a length-biased RM; DPO at two betas."""
    import copy
    import random

    import numpy as np

    from ..data.tasks import label_pairs
    from ..losses import pairwise_loss
    from ..oversight.best_of_n import expected_best_of_n
    from ..training import RunOptions, TrainConfig
    from ..training.preference import train_dpo
    from ..training.reward_model import reward_model_fn
    from ._sentiment import (
        evaluate,
        gold_pairs,
        make_setup,
        pairwise_accuracy,
        sample,
        train_proxy_reward_model,
    )

    setup = make_setup(cfg, seed=ctx.seed, device=ctx.device, repetition_penalty=cfg.repetition_penalty)
    gold_fn = setup.task.gold_reward
    pairs, _ = gold_pairs(setup, cfg.rm_pairs, seed=ctx.seed + 10)
    held_out, _ = gold_pairs(setup, 256, bt_temperature=0.0, drop_ties=True, seed=ctx.seed + 20)
    prompts = setup.task.prompts(cfg.bon_prompts, seed=ctx.seed + 40)
    repeated = [p for p in prompts for _ in range(cfg.bon_samples)]
    candidates = sample(setup, setup.base, repeated, seed=ctx.seed + 41)
    shape = (cfg.bon_prompts, cfg.bon_samples)
    gold = np.array([gold_fn(c) for c in candidates]).reshape(shape)
    ns = [2**k for k in range(int(math.log2(cfg.bon_samples)) + 1)]
    accuracy: dict[str, float] = {}

    def proxy_scores(reward_model, texts: list[str]) -> np.ndarray:
        return np.array(reward_model_fn(reward_model, setup.tokenizer, chat=False)(repeated, texts)).reshape(
            shape
        )

    def curve(scores: np.ndarray, values: np.ndarray) -> list[list[float]]:
        return [expected_best_of_n(scores, values, n).tolist() for n in ns]

    def reward_model(trunk_setup, train_pairs, seed: int, name: str):
        model, _ = train_proxy_reward_model(
            trunk_setup, train_pairs, steps=cfg.rm_steps, seed=seed, device=ctx.device
        )
        accuracy[name] = pairwise_accuracy(trunk_setup, model, held_out)
        return model

    # RM size: trunks of each width pre-trained on the same language (same task seed, same tokenizer).
    rm_size = {}
    for width in ctx.progress(cfg.rm_sizes, "reward-model widths", total=len(cfg.rm_sizes)):
        trunk = setup if width == cfg.d_model else make_setup(
            cfg.model_copy(update={"d_model": width}), seed=ctx.seed, device=ctx.device,
            repetition_penalty=cfg.repetition_penalty,
        )  # fmt: skip
        widest_rm = reward_model(trunk, pairs, ctx.seed, f"width_{width}")
        scores = proxy_scores(widest_rm, candidates)
        rm_size[str(width)] = BestOfNCurve(gold=curve(scores, gold), proxy=curve(scores, scores))

    # Policy size: best-of-n from wider policies (pre-trained the same way), scored by the widest RM.
    policy_size = {str(cfg.d_model): rm_size[str(cfg.rm_sizes[-1])]}
    for width in cfg.policy_widths:
        wide = make_setup(cfg.model_copy(update={"d_model": width}), seed=ctx.seed, device=ctx.device,
                          repetition_penalty=cfg.repetition_penalty)  # fmt: skip
        texts = sample(wide, wide.base, repeated, seed=ctx.seed + 41)
        wide_gold = np.array([gold_fn(t) for t in texts]).reshape(shape)
        policy_size[str(width)] = BestOfNCurve(gold=curve(proxy_scores(widest_rm, texts), wide_gold))

    # Ensembles: members differ in their seed only; combined by mean, min (worst case) and mean − λ var (UWO).
    member_scores = [
        proxy_scores(reward_model(setup, pairs, ctx.seed + 1000 * (i + 1), f"member_{i}"), candidates)
        for i in ctx.progress(range(cfg.ensemble_size), "ensemble members", total=cfg.ensemble_size)
    ]
    stacked = np.stack(member_scores)
    combined = {
        **{f"member_{i}": s for i, s in enumerate(member_scores)},
        "mean": stacked.mean(0), "min": stacked.min(0), "uwo": stacked.mean(0) - cfg.uwo_weight * stacked.var(0),
    }  # fmt: skip
    ensemble = {name: BestOfNCurve(gold=curve(s, gold)) for name, s in combined.items()}

    # Length: candidates cut at random lengths; two RMs on the same cut pairs, labelled with and without a weak
    # preference for length.
    rng = random.Random(ctx.seed)

    def cut(texts: list[str]) -> list[str]:
        return [" ".join(t.split()[: rng.randint(cfg.min_length, cfg.completion_length)]) for t in texts]

    pair_a, pair_b = cut([p.chosen for p in pairs]), cut([p.rejected for p in pairs])
    pair_prompts = [p.prompt for p in pairs]
    length_labels, agreement = {}, {}
    for name, bias in (("unbiased", 0.0), ("biased", cfg.length_bias)):

        def score(text: str, bias=bias) -> float:
            return gold_fn(text) + bias * len(text.split()) / cfg.completion_length

        labelled, _ = label_pairs(
            pair_prompts, pair_a, pair_b, [score(t) for t in pair_a], [score(t) for t in pair_b],
            temperature=0.1, seed=ctx.seed + 50,
        )  # fmt: skip
        unequal = [p for p in labelled if len(p.chosen.split()) != len(p.rejected.split())]
        agreement[name] = sum(len(p.chosen.split()) > len(p.rejected.split()) for p in unequal) / len(unequal)
        length_labels[name] = labelled
    cut_candidates = cut(candidates)
    words = np.array([len(t.split()) for t in cut_candidates], dtype=float).reshape(shape)
    cut_gold = np.array([gold_fn(t) for t in cut_candidates]).reshape(shape)
    length_words, length_gold = {}, {}
    for name, labelled in length_labels.items():
        scores = proxy_scores(reward_model(setup, labelled, ctx.seed, f"length_{name}"), cut_candidates)
        length_words[name], length_gold[name] = curve(scores, words), curve(scores, cut_gold)

    # DPO on the gold-labelled pairs, past the point where more KL helps.
    dpo = {}
    for beta in ctx.progress(cfg.dpo_betas, "DPO betas", total=len(cfg.dpo_betas)):
        policy = copy.deepcopy(setup.base)
        points: list[tuple[float, list[float]]] = []

        def measure(policy=policy, points=points) -> None:
            result = evaluate(setup, policy, seed=ctx.seed)
            points.append((max(result.kl, 0.0), result.gold))

        measure()
        train_dpo(
            policy, setup.tokenizer, pairs, pairwise_loss("sigmoid", beta=beta),
            TrainConfig(steps=cfg.dpo_steps, lr=cfg.dpo_lr, log_every=cfg.eval_every, schedule="constant"),
            batch_size=cfg.dpo_batch_size, chat=False,
            options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=lambda step, record, measure=measure: measure()),
        )  # fmt: skip
        dpo[str(beta)] = DPOCurve(kl=[p[0] for p in points], gold=[p[1] for p in points])
        for i, (kl, g) in enumerate(points):
            ctx.log(i * cfg.eval_every, beta=beta, kl=kl, gold=_mean(g))
    record = RewardHackingRecord(
        ns=ns, rm_size=rm_size, ensemble=ensemble, length_words=length_words, length_gold=length_gold,
        length_label_agreement=agreement, dpo=dpo, rm_accuracy=accuracy, policy_size=policy_size,
    )  # fmt: skip

    plt = pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    d = [math.sqrt(math.log(n) - (n - 1) / n) for n in ns]

    def line(ax, values, label, style="o-") -> None:
        ax.plot(d, [_mean(v) for v in values], style, label=label, markersize=3)

    for width, c in rm_size.items():
        line(axes[0], c.gold, f"RM width {width}")
    for name, c in ensemble.items():
        line(axes[1], c.gold, name, ":" if name.startswith("member") else "o-")
    for name in length_words:
        line(axes[2], length_words[name], f"{name} RM")
    for width, c in policy_size.items():
        line(axes[3], c.gold, f"policy width {width}")
    for beta, c in dpo.items():
        axes[4].plot([math.sqrt(k) for k in c.kl], [_mean(g) for g in c.gold], "o-", label=f"beta {beta}")
    titles = ("RM size", "RM ensembles", "length bias", f"policy size (RM width {cfg.rm_sizes[-1]})", "DPO")
    ylabels = ("gold reward", "gold reward", "words in the pick", "gold reward", "gold reward")
    for ax, title, ylabel in zip(axes, titles, ylabels, strict=True):
        ax.set(xlabel="d = sqrt(KL)", ylabel=ylabel, title=title)
        ax.legend(fontsize=7)
    figure = ctx.figure(
        fig, "reward_hacking", "Best-of-n against learned rewards, and DPO, against d = sqrt(KL)"
    )
    table = Table(
        ["reward model", "held-out accuracy against gold"], [[k, round(v, 3)] for k, v in accuracy.items()]
    )
    text = Text(
        f"Gold = sentiment − {cfg.repetition_penalty} × the share of repeated words. Reward models: Bradley-Terry on "
        f"{cfg.rm_pairs} gold-labelled pairs of base samples ({cfg.rm_steps} steps). Best-of-n from {cfg.bon_samples} "
        f"base samples for each of {cfg.bon_prompts} prompts, computed exactly from order statistics. Length part: "
        f"candidates cut at {cfg.min_length}-{cfg.completion_length} words; labels prefer the longer reply on "
        f"{agreement['unbiased']:.0%} (gold only) and {agreement['biased']:.0%} (length bias {cfg.length_bias}) of "
        f"unequal pairs. DPO: {cfg.dpo_steps} steps on the same pairs, lr {cfg.dpo_lr}, evaluated every "
        f"{cfg.eval_every} steps on {cfg.n_eval_prompts} prompts."
    )
    return Measurement(record, [Section("Plots", [figure]), Section("Results", [text, table])])


EXPERIMENT = reward_hacking
