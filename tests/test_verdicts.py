"""Every experiment's verdict is a pure function of its records: one test per outcome it can reach, on
hand-made numbers, plus the edge cases (NaN, ties, empty, seeds that disagree)."""

import math

import numpy as np
import pytest

from alignlab.experiments.verdict import Decision, Record, decide_over_seeds, graded
from alignlab.stats import Estimate, pooled_estimate


class Toy(Record):
    x: float


def toy_decide(records):
    mean = sum(r.x for r in records) / len(records)
    return graded(mean > 1, mean > 0, [f"x = {mean}"], {"x": mean})


def test_seeds_that_disagree_cap_the_pooled_verdict_at_partial():
    pooled, per_seed = decide_over_seeds(toy_decide, [Toy(x=5), Toy(x=0.5)])
    assert [d.verdict for d in per_seed] == ["reproduced", "partial"]
    assert pooled.verdict == "partial" and "seeds disagree" in pooled.reasons[-1]
    pooled, _ = decide_over_seeds(toy_decide, [Toy(x=5), Toy(x=3)])
    assert pooled.verdict == "reproduced"
    pooled, _ = decide_over_seeds(toy_decide, [Toy(x=-5), Toy(x=0.5)])  # pooled below partial: unchanged
    assert pooled.verdict == "not_reproduced"
    with pytest.raises(ValueError, match="at least one"):
        decide_over_seeds(toy_decide, [])


def test_pooled_estimate_counts_both_the_seeds_spread_and_their_own_noise():
    same = pooled_estimate([Estimate(1.0, 0.1, 10), Estimate(1.0, 0.1, 10)])
    assert same.value == 1.0 and same.se == pytest.approx(math.sqrt(0.02) / 2) and same.n == 20
    spread = pooled_estimate([Estimate(0.0, 0.01, 10), Estimate(2.0, 0.01, 10)])
    assert spread.se == pytest.approx(1.0)  # sd sqrt(2) / sqrt(2)
    assert math.isnan(pooled_estimate([Estimate(float("nan"), 0.1, 3)]).value)


def _decision(verdict, **figures):
    return Decision(verdict, ("because",), figures)


# --- tiny-pretrain ------------------------------------------------------------------------------------


def _tiny(loss, se=0.01, rate=2.0, unigram=4.0):
    from alignlab.experiments.tiny_pretrain import TinyPretrainRecord

    return TinyPretrainRecord(
        final_eval_loss=loss, final_eval_loss_se=se, eval_sequences=100, entropy_rate=rate,
        unigram_entropy=unigram, parameters=1, tokens_seen=1, curve=[],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_tiny(2.1)], "reproduced"),  # 95% closed, se 0.5%
        ([_tiny(2.19, se=0.1)], "partial"),  # 90.5% closed but se 5%: not clearly above 90%
        ([_tiny(3.0)], "partial"),  # 50%: between
        ([_tiny(3.5)], "not_reproduced"),  # 25%
        ([_tiny(2.1, unigram=2.02)], "not_applicable"),  # no gap to close
        ([_tiny(float("nan"))], "not_applicable"),
        ([_tiny(2.1), _tiny(2.12)], "reproduced"),
        ([_tiny(2.05), _tiny(3.9)], "partial"),  # the seeds' spread swamps the mean
    ],
)
def test_tiny_pretrain_verdict(records, verdict):
    from alignlab.experiments.tiny_pretrain import decide

    assert decide(records).verdict == verdict


# --- quickstart ---------------------------------------------------------------------------------------


def _quickstart(factual_margins, other=(("helpful", -1.0),)):
    from alignlab.experiments.quickstart import JudgedPair, QuickstartRecord

    pairs = [JudgedPair(category="factual", margin=m) for m in factual_margins]
    pairs += [JudgedPair(category=c, margin=m) for c, m in other]
    return QuickstartRecord(
        pairs=pairs, refusal_rate={}, load_s=1, generation_tokens_per_s=1, scoring_tokens_per_s=1
    )


@pytest.mark.parametrize(
    ("margins", "verdict"),
    [
        ([1.0] * 15 + [-1.0], "reproduced"),  # 15/16: p = 0.00026
        ([1.0] * 11 + [-1.0] * 5, "not_reproduced"),  # 11/16: p = 0.105
        ([1.0, 1.0, 1.0], "not_reproduced"),  # 3/3: p = 0.125, too few to tell
        ([0.0] * 16, "not_reproduced"),  # ties are not correct
        ([], "not_applicable"),
    ],
)
def test_quickstart_verdict_rests_on_factual_pairs_alone(margins, verdict):
    from alignlab.experiments.quickstart import decide

    decision = decide([_quickstart(margins)])
    assert decision.verdict == verdict
    if margins:
        assert decision.figures["judge_accuracy_helpful (not scored)"] == "0/1"


def test_deterministic_experiments_refuse_several_seeds(tmp_path):
    from alignlab.errors import AlignlabError
    from alignlab.experiments import run_experiment

    with pytest.raises(AlignlabError, match="deterministic"):
        run_experiment("quickstart", out=tmp_path / "runs", seeds=[0, 1])
    assert not (tmp_path / "runs").exists()


# --- logit-lens ---------------------------------------------------------------------------------------


def _lens(ranks_per_prompt):
    from alignlab.experiments.logit_lens import LogitLensRecord, PromptLens

    prompts = [PromptLens(prompt="p", answer=" a", ranks=r, final_top1=" a") for r in ranks_per_prompt]
    return LogitLensRecord(prompts=prompts, n_layers=len(ranks_per_prompt[0]))


EARLY = [50, 10, 0, 0]  # top-1 from layer 2 of 4
LATE = [50, 10, 3, 0]  # climbs, top-1 only at the last layer
FLAT = [1, 2, 3, 4, 5, 6, 0]  # falls away with depth, then jumps to the top at the last layer
WRONG = [5, 4, 3, 2]  # the model does not answer: not counted


@pytest.mark.parametrize(
    ("prompts", "verdict"),
    [
        ([EARLY] * 10, "reproduced"),
        ([EARLY] * 11 + [LATE], "reproduced"),  # 11/12: p = 0.003
        ([EARLY] * 9 + [LATE] * 3, "partial"),  # 9/12: p = 0.073, but all 12 climb
        ([LATE] * 12, "partial"),
        ([FLAT] * 12, "not_reproduced"),
        ([EARLY] * 9 + [WRONG] * 20, "not_applicable"),  # 9 answered < 10
    ],
)
def test_logit_lens_verdict(prompts, verdict):
    from alignlab.experiments.logit_lens import decide

    assert decide([_lens(prompts)]).verdict == verdict


# --- fact-patching ------------------------------------------------------------------------------------


def _traced(subject_effect, other_effect, mlp, attn, n_pairs=8, jitter=0.01):
    from alignlab.experiments.fact_patching import FactPatchingRecord, TracedPair

    pairs = []
    for i in range(n_pairs):
        e = jitter * (i % 3 - 1)
        resid = [
            [0.0, other_effect + e, subject_effect + e, 0.05, 1.0]
        ] * 2  # The, X, Y(last subject), is, of
        pairs.append(
            TracedPair(
                clean="c", corrupted="k", tokens=["The", " X", "Y", " is", " of"], subject_first=1, subject_last=2,
                resid_mid=resid, mlp_subject=[mlp + e] * 4, attn_subject=[attn] * 4, mlp_last=[0.0] * 4,
                attn_last=[0.0] * 4,
            )
        )  # fmt: skip
    return FactPatchingRecord(n_layers=4, mid_layers=[1, 2], candidates=n_pairs, pairs=pairs)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_traced(0.8, 0.1, mlp=0.3, attn=0.05), "reproduced"),
        (_traced(0.8, 0.1, mlp=0.05, attn=0.3), "partial"),  # the site is right, the MLP is not the carrier
        (_traced(0.1, 0.8, mlp=0.3, attn=0.05), "not_reproduced"),  # the effect sits on another token
        (_traced(0.8, 0.1, mlp=0.3, attn=0.05, n_pairs=4), "not_applicable"),
        (_traced(0.5, 0.5, mlp=0.3, attn=0.3, jitter=0.0), "not_reproduced"),  # exact ties are not clear wins
    ],
)
def test_fact_patching_verdict(record, verdict):
    from alignlab.experiments.fact_patching import decide

    decision = decide([record])
    assert decision.verdict == verdict
    if verdict != "not_applicable":
        assert decision.figures["largest_mid_layer_effect_on_a_subject_token"].endswith("/8")


# --- superposition ------------------------------------------------------------------------------------


def _superposition(dense=(5, 5, 5, 5), packed=(20, 19, 20, 20), sparse_phase="superposition",
                   dense_phase="dedicated", cosines=(0.97, 0.98, 0.96), q99=0.87):  # fmt: skip
    from alignlab.experiments.superposition import SuperpositionRecord

    return SuperpositionRecord(
        n_hidden=5, represented={"0.0": list(dense), "0.99": list(packed)},
        dimensions_per_feature={"0.0": [1.0], "0.99": [0.25]}, densities=[0.01, 1.0], ratios=[1.0],
        phases=[[[sparse_phase] * 3, [dense_phase] * 3]], sae_matched_cosines=list(cosines),
        sae_mean_max_cosine=0.99, random_matched_mean=0.8, random_matched_q99=q99, random_mean_max=0.83,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_superposition(), "reproduced"),
        (_superposition(cosines=(0.91, 0.92, 0.9)), "partial"),  # recovery not clearly above 0.9
        (_superposition(q99=0.99), "partial"),  # random decoders do as well
        (_superposition(dense_phase="superposition"), "partial"),  # superposition even when dense
        (_superposition(dense=(7, 8, 7, 8)), "not_reproduced"),  # more than m features with dense inputs
        (_superposition(packed=(11, 9, 10, 12)), "not_reproduced"),  # not clearly beyond 2m
        (_superposition(packed=(30, 0, 30, 0)), "not_reproduced"),  # the instances disagree wildly
    ],
)
def test_superposition_verdict(record, verdict):
    from alignlab.experiments.superposition import decide

    assert decide([record]).verdict == verdict


# --- moe-routing --------------------------------------------------------------------------------------


def _moe(*layers, se=0.01):
    from alignlab.experiments.moe_routing import LayerLoads, MoERoutingRecord

    return MoERoutingRecord(
        layers=[LayerLoads(cv_without=a, cv_without_se=se, cv_with=b, cv_with_se=se) for a, b in layers],
        max_share_without=[0.3], max_share_with=[0.15], entropy_without=[1.0], entropy_with=[1.5],
        domain_information_without=[0.1], domain_information_with=[0.1], eval_loss_without=2.0,
        eval_loss_with=2.0, uniform_share=0.125,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_moe((0.6, 0.1), (0.5, 0.1))], "reproduced"),
        ([_moe((0.6, 0.1), (0.5, 0.3))], "partial"),  # the last layer is lower, not halved
        ([_moe((0.6, 0.1), (0.15, 0.13))], "not_reproduced"),  # one layer not clearly lower
        ([_moe((0.6, 0.45), se=0.1)], "not_reproduced"),  # within noise
        ([_moe((0.6, 0.1)), _moe((0.6, 0.1)), _moe((0.6, 0.1))], "reproduced"),
        ([_moe((0.6, 0.1)), _moe((0.1, 0.6))], "not_reproduced"),  # seeds disagree: the spread counts
    ],
)
def test_moe_routing_verdict(records, verdict):
    from alignlab.experiments.moe_routing import decide

    assert decide(records).verdict == verdict


# --- debate-pixels ------------------------------------------------------------------------------------


def _pixels(random10, best, random2, random_lie, n=100):
    from alignlab.experiments.debate_pixels import DebatePixelsRecord, PixelOutcomes

    def ones(share):  # baselines: successes first
        return [1] * round(share * n) + [0] * (n - round(share * n))

    def debate(share):  # debates: successes last, so that pairs are not aligned by construction
        return ones(share)[::-1]

    outcome = PixelOutcomes(
        k=4, random_10way=ones(random10), random_2way=ones(random2), random_lie_first=debate(random_lie),
        random_lie_second=debate(random_lie), best_lie_first=debate(best), best_lie_second=debate(best),
        greedy_best_lie_first=debate(best), greedy_best_lie_second=debate(best), full_accuracy=0.9,
    )  # fmt: skip
    return DebatePixelsRecord(outcomes=[outcome])


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_pixels(random10=0.5, best=0.85, random2=0.75, random_lie=0.99), "reproduced"),
        (_pixels(random10=0.5, best=0.85, random2=0.9, random_lie=0.9), "partial"),  # no gain like for like
        (_pixels(random10=0.5, best=0.55, random2=0.8, random_lie=0.95), "not_reproduced"),  # within noise
        (_pixels(random10=0.6, best=0.5, random2=0.8, random_lie=0.95), "not_reproduced"),
    ],
)
def test_debate_pixels_verdict(record, verdict):
    from alignlab.experiments.debate_pixels import decide

    decision = decide([record])
    assert decision.verdict == verdict and set(decision.figures) >= {"random_4px", "debate_4px"}


def _self_play(precheck, debate_weak, debate_strong, consult_weak, consult_strong, n=400):
    from alignlab.experiments.debate_self_play import DebateSelfPlayRecord, StrengthOutcomes

    def share(p, reverse=False):
        values = [1] * round(p * n) + [0] * (n - round(p * n))
        return values[::-1] if reverse else values

    outcomes = [
        StrengthOutcomes(n=strength, debate_honest_first=share(d), debate_honest_second=share(d),
                         consultancy=share(c, reverse=True))
        for strength, d, c in ((1, debate_weak, consult_weak), (32, debate_strong, consult_strong))
    ]  # fmt: skip
    return DebateSelfPlayRecord(judge_check=share(precheck), argues_truth=[i % 2 for i in range(n)],
                                outcomes=outcomes)  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_self_play(0.8, 0.8, 0.95, 0.8, 0.7), "reproduced"),  # debate gains, consultancy falls
        (_self_play(0.8, 0.8, 0.95, 0.8, 0.95), "partial"),  # debate gains, but consultancy gains as much
        (_self_play(0.8, 0.8, 0.8, 0.8, 0.6), "partial"),  # only the difference: consultancy falls
        (_self_play(0.8, 0.8, 0.8, 0.8, 0.8), "not_reproduced"),
        (_self_play(0.51, 0.8, 0.95, 0.8, 0.7), "not_applicable"),  # a judge at chance amplifies nothing
    ],
)
def test_debate_self_play_verdict(record, verdict):
    from alignlab.experiments.debate_self_play import decide

    decision = decide([record])
    assert decision.verdict == verdict
    assert {"debate_accuracy_n1", "debate_accuracy_n32", "consultancy_accuracy_n32"} <= set(decision.figures)


def test_debate_self_play_llm_setting_decides_by_the_same_rule_in_its_own_words():
    from alignlab.experiments.debate_self_play import decide

    record = _self_play(0.8, 0.8, 0.95, 0.8, 0.7).model_copy(update={"debaters": "llm"})
    decision = decide([record])
    assert decision.verdict == "reproduced"
    assert {"judge_accuracy_with_story", "debate_accuracy_step1", "debate_accuracy_step32"} <= set(
        decision.figures
    )
    assert (
        "the judge shown the story" in decision.reasons[0]
        and "32 GRPO steps minus 1 GRPO steps" in decision.reasons[1]
    )
    chance = _self_play(0.51, 0.8, 0.95, 0.8, 0.7).model_copy(update={"debaters": "llm"})
    assert decide([chance]).verdict == "not_applicable"


def _honest_vs_deceptive(wins: int, contests: int, agreed: int = 0):
    from alignlab.experiments.honest_vs_deceptive import DebateOutcome, HonestVsDeceptiveRecord

    def outcome(i: int, contest: bool) -> DebateOutcome:
        won = int(i < wins) if contest else None
        return DebateOutcome(
            question=f"q{i}", reference="Paris", honest_agent="proposer", truthful_side="proposer" if contest else None,
            answers={"proposer": "Paris", "opponent": "Lyon" if contest else "Paris"}, agreed=not contest,
            contest=contest, honest_won=won, naive_honest=None if won is None else 1 - won, confidence=0.5,
            easy=i % 2 == 0, rationale="",
        )  # fmt: skip

    return HonestVsDeceptiveRecord(
        outcomes=[outcome(i, True) for i in range(contests)]
        + [outcome(contests + i, False) for i in range(agreed)]
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_honest_vs_deceptive(45, 60), "reproduced"),
        (_honest_vs_deceptive(33, 60), "not_reproduced"),  # 55%: not clearly above a coin flip
        (_honest_vs_deceptive(8, 9, agreed=51), "not_applicable"),  # too few contests to test
    ],
)
def test_honest_vs_deceptive_verdict(record, verdict):
    from alignlab.experiments.honest_vs_deceptive import decide

    decision = decide([record])
    assert decision.verdict == verdict
    assert decision.figures["contests"] == sum(o.contest for o in record.outcomes)
    if verdict != "not_applicable":
        assert decision.figures["debate_advantage_easy"] is not None and "p = " in decision.reasons[0]


def _steering(reading_shift: float, random_shift: float, n: int = 36):
    from alignlab.experiments.steering import SteeringRecord

    base = [-6.0 + 0.1 * (i % 7) for i in range(n)]  # prompts differ; the shift is what the rule reads

    def curve(shift: float) -> list[list[float]]:
        return [base, [b + shift + 0.2 * ((i % 3) - 1) for i, b in enumerate(base)]]

    return SteeringRecord(
        coefficients=[0.0, 1.0], residual_norm=50.0,
        log_p_refusal={"reading": curve(reading_shift), "random": curve(random_shift), "sae": curve(0.5)},
        harmful_log_p_refusal=[base, base], side_effect_nll={"reading": [2.0, 2.4], "random": [2.0, 2.1], "sae": [2.0, 2.2]},
        cosine_reading_sae=0.3, sae_latent=7,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_steering(2.0, 0.1), "reproduced"),
        (_steering(2.0, 2.0), "partial"),  # any push that size does it: not the direction
        (_steering(0.0, 0.0), "not_reproduced"),
    ],
)
def test_steering_verdict(record, verdict):
    from alignlab.experiments.steering import decide

    decision = decide([record])
    assert decision.verdict == verdict
    assert decision.figures["side_effect_nll_increase_reading_at_1.0"] == pytest.approx(0.4)


# --- cai-training -------------------------------------------------------------------------------------


def _cai_training(harmless: dict[str, int], helpful: dict[str, int], n: int = 25):
    """Counts of refused unsafe requests and answered safe prompts, out of n, per model; the first prompts
    are the ones every model gets right, so differences are paired."""
    from alignlab.experiments.cai_training import MODELS, CAITrainingRecord, ModelScores

    def hits(k: int) -> list[int]:
        return [1] * k + [0] * (n - k)

    models = {
        m: ModelScores(harmless=hits(harmless[m]), helpful=hits(helpful[m]), log_p_refusal_unsafe=-3.0,
                       log_p_refusal_safe=-5.0)
        for m in MODELS
    }  # fmt: skip
    return CAITrainingRecord(
        models=models, revisions_refused=[0.0, 0.6], revisions_violating=[0.9, 0.3], sl_cai_examples=48,
        rl_cai_pairs=20, rlhf_pairs=20, ai_gold_agreement=0.8,
    )  # fmt: skip


ALL_HELPFUL = dict.fromkeys(("base", "sl_cai", "rl_cai", "rlhf"), 25)


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_cai_training(dict(base=0, sl_cai=15, rl_cai=20, rlhf=2), ALL_HELPFUL)], "reproduced"),
        # RL-CAI buys its harmlessness with helpfulness: 20 of 25 safe prompts refused
        (
            [_cai_training(dict(base=0, sl_cai=15, rl_cai=20, rlhf=2), {**ALL_HELPFUL, "rl_cai": 5})],
            "partial",
        ),
        ([_cai_training(dict(base=0, sl_cai=15, rl_cai=15, rlhf=15), ALL_HELPFUL)], "partial"),  # (a) only
        ([_cai_training(dict(base=0, sl_cai=1, rl_cai=10, rlhf=0), ALL_HELPFUL)], "partial"),  # (b) only
        ([_cai_training(dict(base=0, sl_cai=1, rl_cai=1, rlhf=0), ALL_HELPFUL)], "not_reproduced"),  # noise
        ([_cai_training(dict(base=24, sl_cai=25, rl_cai=25, rlhf=24), ALL_HELPFUL)], "not_applicable"),
    ],
)
def test_cai_training_verdict(records, verdict):
    from alignlab.experiments.cai_training import decide

    decision = decide(records)
    assert decision.verdict == verdict
    assert decision.figures["helpful_base"] == 1.0


# --- reward-hacking -----------------------------------------------------------------------------------


def _reward_hacking(size_gap=0.1, ensemble_gap=0.1, word_gap=2.0, dpo_fall=0.2, n=24):
    """Every per-prompt value is the prompt's baseline plus the stated gap, with a little spread."""
    from alignlab.experiments.reward_hacking import BestOfNCurve, DPOCurve, RewardHackingRecord

    base = [0.01 * (i % 5) for i in range(n)]

    def curve(gap):
        return BestOfNCurve(gold=[base, [b + gap + 0.002 * (i % 3) for i, b in enumerate(base)]])

    dpo_gold = [
        base,
        [b + 0.3 for b in base],
        [b + 0.3 - dpo_fall + 0.002 * (i % 3) for i, b in enumerate(base)],
    ]
    return RewardHackingRecord(
        ns=[1, 2], rm_size={"16": curve(0.0), "64": curve(size_gap)},
        ensemble={"member_0": curve(0.0), "member_1": curve(0.0), "mean": curve(0.0), "min": curve(ensemble_gap),
                  "uwo": curve(ensemble_gap)},
        length_words={"unbiased": [[8.0] * n, [8.0 + 0.1 * (i % 3) for i in range(n)]],
                      "biased": [[8.0] * n, [8.0 + word_gap + 0.1 * (i % 2) for i in range(n)]]},
        length_gold={"unbiased": [base, base], "biased": [base, base]},
        length_label_agreement={"unbiased": 0.5, "biased": 0.6},
        dpo={"0.1": DPOCurve(kl=[0.0, 1.0, 3.0], gold=dpo_gold)}, rm_accuracy={},
        policy_size={"64": curve(0.1), "128": curve(0.05)},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_reward_hacking()], "reproduced"),
        ([_reward_hacking(size_gap=0.0)], "partial"),
        ([_reward_hacking(size_gap=-0.1, ensemble_gap=0.0, word_gap=0.0)], "partial"),  # DPO alone
        ([_reward_hacking(size_gap=0.0, ensemble_gap=0.0, word_gap=0.0, dpo_fall=0.0)], "not_reproduced"),
        ([_reward_hacking(), _reward_hacking(), _reward_hacking()], "reproduced"),
    ],
)
def test_reward_hacking_verdict(records, verdict):
    from alignlab.experiments.reward_hacking import decide

    decision = decide(records)
    assert decision.verdict == verdict
    assert decision.figures["bon_gold_gain_policy_128"] == pytest.approx(
        0.052, abs=1e-3
    )  # reported, never scored


def test_dpo_overoptimisation_needs_the_kl_to_have_grown_past_the_peak():
    from alignlab.experiments.reward_hacking import decide, dpo_fall

    record = _reward_hacking(size_gap=0.0, ensemble_gap=0.0, word_gap=0.0)
    assert dpo_fall([record], "0.1")[0] == 1
    record.dpo["0.1"].kl[:] = [
        0.0,
        3.0,
        3.0,
    ]  # the gold fell while the policy stood still: noise, not hacking
    assert decide([record]).verdict == "not_reproduced"


# --- safety-features ----------------------------------------------------------------------------------


def _safety_features(held_separated: bool, shifted_separated: bool, n: int = 12):
    from alignlab.experiments.safety_features import SafetyFeaturesRecord

    labels = [True] * n + [False] * n

    def scores(separated: bool) -> list[float]:  # separated: every harmful prompt above every look-alike
        return (
            [1.0 + i for i in range(n)] + [-1.0 - i for i in range(n)]
            if separated
            else [float(i % 2) for i in range(2 * n)]
        )

    def all_scores(separated: bool) -> dict[str, list[float]]:
        return {"feature": scores(separated), "random_feature": scores(False), "probe": scores(True)}

    return SafetyFeaturesRecord(
        feature=3, effect_size=2.0, held_out_labels=labels, held_out_scores=all_scores(held_separated),
        shifted_labels=labels, shifted_scores=all_scores(shifted_separated), monitor_flags=[False] * 2 * n,
        changed_features=[3, 5], feature_change_rank=1, feature_mean_before=1.0, feature_mean_after=0.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_safety_features(True, True), "reproduced"),
        (_safety_features(True, False), "partial"),
        (_safety_features(False, True), "partial"),
        (_safety_features(False, False), "not_reproduced"),
    ],
)
def test_safety_features_verdict(record, verdict):
    from alignlab.experiments.safety_features import decide

    decision = decide([record])
    assert decision.verdict == verdict
    assert decision.figures["auroc_held_out_probe"] == 1.0


# --- distillation -------------------------------------------------------------------------------------


def _distillation(teacher, alone, distilled, n=540):
    from alignlab.experiments.distillation import DistillationRecord

    def wrong(k):  # the hardest images are wrong for every network that gets k wrong
        return [1] * k + [0] * (n - k)

    return DistillationRecord(
        test_images=n, teacher_wrong=wrong(teacher), alone_wrong=wrong(alone),
        distilled_wrong={"20.0": wrong(distilled)}, stopped_at={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_distillation(10, 60, 15)], "reproduced"),  # 90% of a 50-error gap
        ([_distillation(10, 60, 40)], "partial"),  # 40%
        ([_distillation(10, 60, 58)], "not_reproduced"),  # 4%: within noise of 0
        ([_distillation(10, 60, 70)], "not_reproduced"),  # distillation hurts
        ([_distillation(10, 12, 10)], "not_applicable"),  # a 2-error gap is no gap
        ([_distillation(10, 60, 15), _distillation(10, 60, 16), _distillation(10, 60, 14)], "reproduced"),
    ],
)
def test_distillation_verdict(records, verdict):
    from alignlab.experiments.distillation import decide

    assert decide(records).verdict == verdict


def test_gap_closed_bootstrap_is_paired_and_exact_at_its_centre():
    from alignlab.experiments.distillation import gap_closed

    estimate = gap_closed(_distillation(10, 60, 35))
    assert estimate.value == pytest.approx(0.5) and 0 < estimate.se < 0.1


# --- tuned-lens ---------------------------------------------------------------------------------------


def _lens_kl(logit, tuned, noise=0.1):
    from alignlab.experiments.tuned_lens import TunedLensRecord

    jitter = [noise * ((i * 7) % 5 - 2) for i in range(8)]
    return TunedLensRecord(
        layers=list(range(len(logit))),
        logit_kl={i: [v + j for j in jitter] for i, v in enumerate(logit)},
        tuned_kl={i: [v - j for j in jitter] for i, v in enumerate(tuned)},
        train_tokens=1,
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_lens_kl([12.0, 8.0, 4.0], [4.0, 3.0, 2.0]), "reproduced"),
        (_lens_kl([12.0, 8.0, 4.0], [4.0, 3.0, 4.0]), "partial"),  # no gain at the last layer
        (_lens_kl([12.0, 8.0, 4.0], [4.0, 8.0, 4.0]), "not_reproduced"),  # 1 of 3
        (_lens_kl([12.0, 8.0, 4.0], [11.9, 7.9, 3.9], noise=1.0), "not_reproduced"),  # gains within noise
    ],
)
def test_tuned_lens_verdict(record, verdict):
    from alignlab.experiments.tuned_lens import decide

    assert decide([record]).verdict == verdict


# --- sae ----------------------------------------------------------------------------------------------


def _sae(ev, clean=3.0, sae=3.2, mean=4.0, zero=9.0, noise=0.05, n=32):
    from alignlab.experiments.sae import SAERecord

    jitter = [noise * ((i * 7) % 5 - 2) for i in range(n)]
    return SAERecord(
        site="blocks.12.hook_resid_post", d_sae=2304, train_tokens=1, held_out_tokens=1, l0=32.0,
        explained_variance=ev, explained_variance_per_block=[ev + j / 5 for j in jitter],
        ce_clean=[clean + j for j in jitter], ce_sae=[sae + j for j in jitter], ce_zero=[zero + j for j in jitter],
        ce_mean=[mean + j for j in jitter], dead_fraction=0.0, dense_fraction=0.0, steered_feature=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_sae(0.8, sae=3.1), "reproduced"),  # 90% of the mean-ablation gap
        (_sae(0.8, sae=3.4), "partial"),  # 60% against mean-ablation (93% against zero-ablation)
        (_sae(0.6, sae=3.1), "partial"),  # explained variance short of 0.7
        (_sae(0.8, sae=3.8), "not_reproduced"),  # 20% against mean-ablation, though 87% against zeroing
        (_sae(0.4, sae=3.1), "not_reproduced"),
    ],
)
def test_sae_verdict_scores_recovery_against_mean_ablation(record, verdict):
    from alignlab.experiments.sae import decide

    decision = decide([record])
    assert decision.verdict == verdict
    assert decision.figures["loss_increase_nats"] == pytest.approx(
        sum(record.ce_sae) / 32 - sum(record.ce_clean) / 32, abs=1e-3
    )


# --- induction-heads ----------------------------------------------------------------------------------


def _induction(one_loss=5.2, two_loss=0.1, prefix=0.9, one_prefix=0.03, ablated=7.0, rise_at=(400, 500)):
    from alignlab.experiments.induction_heads import InductionRecord, ModelScores

    jitter = [0.02 * ((i * 7) % 5 - 2) for i in range(64)]

    def scores(n_layers, loss, prefix_score, ablated_loss):
        low, high = rise_at
        curve = [(s, 1.0, 0.03 if s < low else prefix_score if s >= high else (0.03 + prefix_score) / 2, loss)
                 for s in range(0, 1501, 50)]  # fmt: skip
        return ModelScores(
            n_layers=n_layers, second_copy_loss=[loss + j for j in jitter], first_copy_loss=[5.5] * 64,
            prefix_scores=[[prefix_score + j for j in jitter]] + [[0.03] * 64] * 3, top_head=0, induction_heads=[0],
            ablated_second_copy_loss=[ablated_loss + j for j in jitter],
            top_head_ablated_second_copy_loss=[ablated_loss + j for j in jitter], copying_score=0.9,
            icl_score_training_rows=-2.0, curve=curve,
        )  # fmt: skip

    return InductionRecord(
        one_layer=scores(1, one_loss, one_prefix, one_loss),
        two_layer=scores(2, two_loss, prefix, ablated),
        steps=1500,
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_induction(), "reproduced"),
        (_induction(rise_at=(100, 1200)), "partial"),  # a slow climb is no phase change
        (_induction(ablated=0.5), "partial"),  # ablation costs under 1 nat
        (_induction(prefix=0.2, one_prefix=0.03), "partial"),  # no strong prefix matching
        (_induction(two_loss=4.8), "not_reproduced"),  # the 2-layer model does no better in context
        (_induction(one_loss=0.2, two_loss=0.1), "not_reproduced"),
    ],
)
def test_induction_heads_verdict(record, verdict):
    from alignlab.experiments.induction_heads import decide

    assert decide([record]).verdict == verdict


def test_rise_share_measures_how_fast_the_prefix_score_climbs():
    from alignlab.experiments.induction_heads import rise_share

    curve = [(0, 0.0, 0.0, 0.0), (100, 0.0, 0.25, 0.0), (300, 0.0, 0.85, 0.0), (1000, 0.0, 1.0, 0.0)]
    assert rise_share(curve, 1000) == pytest.approx(
        0.2
    )  # 20% of the rise reached at step 100, 80% at step 300
    assert rise_share([(0, 0, 0.5, 0), (1000, 0, 0.4, 0)], 1000) == 1.0  # never climbs


# --- grpo ---------------------------------------------------------------------------------------------


def _grpo(sft_greedy, grpo_greedy, sft_samples=2, grpo_samples=2, n=500):
    from alignlab.experiments.grpo import GRPORecord, PolicyScores

    def policy(greedy_share, samples):
        greedy = [1] * round(greedy_share * n) + [0] * (n - round(greedy_share * n))
        return PolicyScores(
            greedy_correct=greedy, samples_correct=[samples + (i % 3) - 1 for i in range(n)], kl_to_sft=0.1
        )

    return GRPORecord(
        pass_k=8, sft=policy(sft_greedy, sft_samples), grpo=policy(grpo_greedy, grpo_samples),
        grpo_no_kl=policy(grpo_greedy, grpo_samples), curves={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_grpo(0.40, 0.46)], "reproduced"),  # 30 problems gained, none lost: McNemar p ~ 1e-9
        ([_grpo(0.40, 0.404)], "not_reproduced"),  # 2 gained, none lost: p = 0.25
        ([_grpo(0.40, 0.40, grpo_samples=3)], "partial"),  # greedy unchanged, sampled accuracy up
        ([_grpo(0.40, 0.40)], "not_reproduced"),
        ([_grpo(0.40, 0.30, grpo_samples=3)], "partial"),  # greedy worse; sampled up
        ([_grpo(0.40, 0.404)] * 3, "reproduced"),  # 6 gained over 3 seeds: p = 0.016
    ],
)
def test_grpo_verdict(records, verdict):
    from alignlab.experiments.grpo import decide

    assert decide(records).verdict == verdict


# --- rlhf-pipeline ------------------------------------------------------------------------------------


def _rlhf(base, ppo, kl=2.0, n=256):
    from alignlab.experiments.rlhf_pipeline import RLHFRecord

    noise = [0.2 * ((i * 7) % 5 - 2) for i in range(n)]
    return RLHFRecord(
        gold_base=[base + e for e in noise], gold_ppo=[ppo + e for e in noise[::-1]],
        log_ratios_ppo=[kl + e for e in noise], curve=[], rm_accuracy_held_out=0.8, held_out_pairs=256,
        label_agreement_with_gold=0.9,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_rlhf(0.0, 0.3)], "reproduced"),
        ([_rlhf(0.0, 0.3, kl=0.0)], "partial"),  # gold up without a measurable KL
        ([_rlhf(0.0, 0.02)], "not_reproduced"),  # within noise
        ([_rlhf(0.0, -0.3)], "not_reproduced"),
        ([_rlhf(0.0, 0.3), _rlhf(0.0, -0.3)], "not_reproduced"),  # seeds disagree: the spread swamps the mean
    ],
)
def test_rlhf_pipeline_verdict(records, verdict):
    from alignlab.experiments.rlhf_pipeline import decide

    assert decide(records).verdict == verdict


# --- dpo-robustness -----------------------------------------------------------------------------------


def _robustness(dpo, dr_dpo, robust, n=256):
    from alignlab.experiments.dpo_robustness import DPORobustnessRecord

    noise = [0.2 * ((i * 7) % 5 - 2) for i in range(n)]
    values = {"sigmoid": dpo, "ipo": dpo, "robust": robust, "dr_dpo": dr_dpo}
    return DPORobustnessRecord(
        flip_rates=[0.0, 0.4],
        gold={loss: {"0.0": [0.5] * n, "0.4": [v + e for e in (noise if loss == "sigmoid" else noise[::-1])]}
              for loss, v in values.items()},
        kl={loss: {"0.0": 1.0, "0.4": 1.0} for loss in values}, gold_base=[0.0] * n,
        label_agreement={"0.0": 0.9, "0.4": 0.55},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_robustness(0.2, 0.4, 0.4)], "reproduced"),
        ([_robustness(0.2, 0.4, 0.2)], "partial"),
        ([_robustness(0.2, 0.21, 0.19)], "not_reproduced"),  # within noise
        ([_robustness(0.2, 0.4, 0.4), _robustness(0.2, 0.0, 0.0)], "not_reproduced"),  # seeds disagree
    ],
)
def test_dpo_robustness_verdict(records, verdict):
    from alignlab.experiments.dpo_robustness import decide

    assert decide(records).verdict == verdict


# --- overoptimization ---------------------------------------------------------------------------------


def _curve(gold_means, proxy_means, n=64):
    from alignlab.experiments.overoptimization import Curve

    def noise(j):  # prompt-level noise that differs from point to point
        return [0.05 * (((i + 3 * j) * 7) % 5 - 2) for i in range(n)]

    return Curve(
        d=[0.5 * i for i in range(len(gold_means))],
        gold=[[g + e for e in noise(j)] for j, g in enumerate(gold_means)],
        proxy=[[q + e for e in noise(j)] for j, q in enumerate(proxy_means)],
    )


RISE = [0.0, 0.2, 0.4, 0.6, 0.8]
PEAK_EARLY = [0.0, 0.3, 0.1, -0.1, -0.3]  # peaks at the second point, then falls
PEAK_LATE = [0.0, 0.1, 0.2, 0.4, 0.1]  # peaks at the fourth point
FLAT = [0.0, 0.01, 0.0, 0.01, 0.0]


def _overopt(small_gold, large_gold, proxy=RISE):
    from alignlab.experiments.overoptimization import OveroptimizationRecord

    curves = {m: {"128": _curve(small_gold, proxy), "2048": _curve(large_gold, proxy)} for m in ("bon", "rl")}
    return OveroptimizationRecord(rm_pairs=[128, 2048], curves=curves, rm_accuracy={"128": 0.7, "2048": 0.9})


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_overopt(PEAK_EARLY, PEAK_LATE), "reproduced"),
        (_overopt(PEAK_EARLY, RISE), "reproduced"),  # the large RM's peak lies beyond the range
        (_overopt(PEAK_LATE, PEAK_EARLY), "partial"),  # the peak moves left
        (_overopt(PEAK_EARLY, PEAK_EARLY), "partial"),  # the same peak
        (_overopt(RISE, RISE), "not_reproduced"),  # gold never falls
        (_overopt(PEAK_EARLY, PEAK_LATE, proxy=[0.0, 0.5, 0.5, 0.5, 0.5]), "not_reproduced"),  # proxy stalls
        (_overopt(FLAT, FLAT), "not_reproduced"),  # noise is no peak
    ],
)
def test_overoptimization_verdict(record, verdict):
    from alignlab.experiments.overoptimization import decide

    assert decide([record]).verdict == verdict


def test_best_of_n_is_exact_and_gao_forms_fit_their_own_curves():
    import numpy as np

    from alignlab.oversight.best_of_n import best_of_n_kl, expected_best_of_n, fit_bon, fit_rl

    scores = np.array([[0.1, 0.9, 0.5]])
    values = np.array([[1.0, 2.0, 3.0]])
    # n = 2 of 3: subsets {0,1} -> 2.0, {0,2} -> 3.0, {1,2} -> 2.0
    assert expected_best_of_n(scores, values, 2)[0] == pytest.approx(7 / 3)
    assert expected_best_of_n(scores, values, 1)[0] == pytest.approx(2.0)  # a random draw
    assert expected_best_of_n(scores, values, 3)[0] == pytest.approx(2.0)  # always the top score
    assert best_of_n_kl(1) == 0 and best_of_n_kl(2) == pytest.approx(np.log(2) - 0.5)
    d = np.linspace(0.1, 2.0, 12)
    assert fit_bon(d, d * (1.5 - 0.4 * d)) == pytest.approx((1.5, 0.4))
    assert fit_rl(d, d * (0.8 - 0.3 * np.log(d))) == pytest.approx((0.8, 0.3))


# --- dpo-frontier -------------------------------------------------------------------------------------


def _frontier(dpo_points, ppo_points, n=64):
    """Points as (kl, mean gold); each method also has the base point (0, 0)."""
    from alignlab.experiments.dpo_frontier import DPOFrontierRecord, FrontierPoint

    def point(method, kl, gold, j):
        noise = [0.05 * (((i + 3 * j) * 7) % 5 - 2) for i in range(n)]
        return FrontierPoint(
            method=method, labels="clean", knob=0.1, step=j, kl=kl, gold=[gold + e for e in noise]
        )

    points = [point("DPO", 0.0, 0.0, 0), point("PPO", 0.0, 0.0, 0)]
    points += [point("DPO", kl, g, j + 1) for j, (kl, g) in enumerate(dpo_points)]
    points += [point("PPO", kl, g, j + 1) for j, (kl, g) in enumerate(ppo_points)]
    return DPOFrontierRecord(
        points=points, label_agreement={"clean": 1.0}, grid_points=20, bootstrap_resamples=50
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_frontier([(1.0, 0.5), (2.0, 0.8)], [(1.0, 0.2), (2.0, 0.4)]), "reproduced"),
        (_frontier([(1.0, 0.2), (2.0, 0.4)], [(1.0, 0.5), (2.0, 0.8)]), "not_reproduced"),  # PPO dominates
        (_frontier([(1.0, 0.3), (2.0, 0.5)], [(1.0, 0.3), (2.0, 0.5)]), "not_reproduced"),  # equal frontiers
    ],
)
def test_dpo_frontier_verdict(record, verdict):
    from alignlab.experiments.dpo_frontier import decide

    assert decide([record]).verdict == verdict


def test_envelopes_are_compared_over_the_common_kl_range_only():
    from alignlab.experiments.dpo_frontier import envelope_gap

    # DPO reaches KL 10 with a high reward there; PPO only reaches KL 2: above 2 nothing is compared
    record = _frontier([(2.0, 0.5), (10.0, 5.0)], [(2.0, 0.5)])
    assert envelope_gap(record.points, "clean", 20) == pytest.approx(0.0, abs=0.02)
    assert envelope_gap(record.points, "noisy", 20) is None  # no noisy-label points


def test_dpo_frontier_without_one_method_is_not_applicable():
    from alignlab.experiments.dpo_frontier import decide

    record = _frontier([(1.0, 0.5)], [(1.0, 0.2)])
    record = record.model_copy(update={"points": [p for p in record.points if p.method == "PPO"]})
    assert decide([record]).verdict == "not_applicable"


# --- rlaif-vs-rlhf ------------------------------------------------------------------------------------


def _rlaif(agree, rlaif=None, rlhf=None, n=256):
    from alignlab.experiments.rlaif_vs_rlhf import RLAIFRecord

    def wins(share):  # wins first, losses last; reversed for the other pipeline so pairs are not aligned
        return None if share is None else [1.0] * round(share * n) + [0.0] * (n - round(share * n))

    return RLAIFRecord(
        labeler_agrees=[1] * round(agree * 100) + [0] * (100 - round(agree * 100)), labeler_failed=0,
        labeler_p_first_shown=0.6, human_label_agreement=0.9, wins_rlaif=wins(rlaif),
        wins_rlhf=None if rlhf is None else wins(rlhf)[::-1],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_rlaif(0.8, 0.70, 0.72), "reproduced"),
        (_rlaif(0.8, 0.62, 0.80), "partial"),  # beats the base, but clearly worse than RLHF
        (_rlaif(0.8, 0.52, 0.70), "not_reproduced"),  # not clearly above 50%
        (_rlaif(0.55), "not_applicable"),  # 55/100: p = 0.18, the labeler is at chance; nothing trained
        (_rlaif(0.5, 0.9, 0.9), "not_applicable"),  # at chance, whatever the policies did
    ],
)
def test_rlaif_vs_rlhf_verdict(record, verdict):
    from alignlab.experiments.rlaif_vs_rlhf import decide

    assert decide([record]).verdict == verdict


# --- weak-to-strong -----------------------------------------------------------------------------------


def _w2s(pgrs, aux_gain, n=10):
    from alignlab.experiments.weak_to_strong import Pairing, WeakToStrongRecord

    pairings = []
    for i in range(n):
        pgr = pgrs[i % len(pgrs)]
        gain = aux_gain + 0.02 * ((i * 7) % 5 - 2)
        pairings.append(
            Pairing(
                task=f"t{i}",
                weak_view=2,
                weak=0.6,
                ceiling=0.9,
                w2s=0.6 + 0.3 * pgr,
                w2s_aux=0.6 + 0.3 * (pgr + gain),
                scratch_ceiling=0.9,
                scratch_w2s=0.6,
            )  # fmt: skip
        )
    return WeakToStrongRecord(pairings=pairings, bootstrap_resamples=500)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_w2s([0.5, 0.6, 0.4], 0.2), "reproduced"),
        (_w2s([0.5, 0.6, 0.4], 0.0), "partial"),  # PGR without a confidence-loss gain
        (_w2s([0.0, 0.05, -0.05], 0.3), "partial"),  # the confidence loss helps, PGR stays low
        (_w2s([0.0, 0.05, -0.05], 0.0), "not_reproduced"),
        (
            _w2s([0.9, -0.5, 0.25], 0.0),
            "not_reproduced",
        ),  # a median of 25% with an interval reaching below 20%
    ],
)
def test_weak_to_strong_verdict(record, verdict):
    from alignlab.experiments.weak_to_strong import decide

    assert decide([record]).verdict == verdict


# --- prm-vs-orm ---------------------------------------------------------------------------------------


def _prm(prm_right_top, orm_right_top, auroc_good=True, problems=60, pool=8, right=2, best_of=8, short=0):
    """Pools of 8 samples, 2 right; the PRM (ORM) ranks a right one on top in the given share of problems;
    the first ``short`` problems keep one sample fewer than ``best_of``."""
    from alignlab.experiments.prm_vs_orm import PrmVsOrmRecord, ProblemPool

    pools = []
    for i in range(problems):
        correct = [1] * right + [0] * (pool - right - (i < short))

        def scores(share, i=i, correct=correct):
            top_right = (i * 7919 % problems) / problems < share
            return [0.9 if c == top_right else 0.1 for c in correct]  # right ones on top, or wrong ones

        pools.append(ProblemPool(correct=correct, prm=scores(prm_right_top), orm=scores(orm_right_top)))
    labels = [1, 0] * 100
    step_scores = [0.8, 0.2] * 100 if auroc_good else [0.5] * 200
    return PrmVsOrmRecord(pools=pools, step_labels=labels, step_scores=step_scores, kept_share=0.9,
                          generator_sft_steps=500, beam_accuracy=0.5, beam_budget=16, best_of=best_of)  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_prm(0.9, 0.4), "reproduced"),  # at N = 8 the top pick decides; at N = 2 the gap is smaller
        (_prm(0.9, 0.4, pool=2, right=1, best_of=2), "partial"),  # PRM ahead at N = 2: no growth to show
        (_prm(0.9, 0.4, short=10), "reproduced"),  # 50 of 60 problems keep 8 samples: enough
        (_prm(0.9, 0.4, short=20), "not_applicable"),  # 40 of 60: under three quarters
        (_prm(0.9, 0.4, pool=1, right=1, best_of=1), "not_applicable"),  # N = 1 compares nothing
        (_prm(0.9, 0.9), "not_reproduced"),  # a useful PRM, no better than the ORM
        (_prm(0.1, 0.1), "not_reproduced"),  # picks worse than a random sample
        (_prm(0.9, 0.4, auroc_good=False), "not_applicable"),  # the PRM cannot check steps
    ],
)
def test_prm_vs_orm_verdict(record, verdict):
    from alignlab.experiments.prm_vs_orm import decide

    assert decide([record]).verdict == verdict


# --- prover-verifier ----------------------------------------------------------------------------------


def _pv(fooled, sneaky_correct=0.2, helpful_judge=0.8, correctness_judge=0.7, n=1200):
    from alignlab.experiments.prover_verifier import ProverVerifierRecord, RoundStats

    rounds = [
        RoundStats(
            verifier_steps=1000, verifier_training_solutions=1, base_verifier_accuracy=0.9, helpful_correct=0.95,
            helpful_accepted=0.9, helpful_verifier_accuracy=0.9, helpful_judge_accuracy=helpful_judge, helpful_merged=0.1,
            helpful_wrong_and_accepted=0.02, helpful_top_flaw="-",
            sneaky_correct=sneaky_correct, sneaky_accepted=f, sneaky_verifier_accuracy=0.7, sneaky_wrong_and_accepted=f,
            sneaky_judge_accuracy=0.6, sneaky_merged=0.1, sneaky_training_wrong_and_accepted=f, sneaky_top_flaw="slip_ones",
        )
        for f in fooled
    ]  # fmt: skip
    return ProverVerifierRecord(
        n_test=n, rounds=rounds, correctness_only_judge_accuracy=correctness_judge, correctness_only_correct=0.99,
        correctness_only_merged=0.3, base_judge_accuracy=0.75,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        ([_pv([0.45, 0.10, 0.20, 0.15])], "reproduced"),
        ([_pv([0.45, 0.10, 0.44, 0.15])], "partial"),  # exploited again in round 2: not robust, still legible
        ([_pv([0.45, 0.10, 0.20, 0.15], sneaky_correct=0.9)], "partial"),  # the sneaky prover turned honest
        ([_pv([0.45, 0.10, 0.20, 0.15], helpful_judge=0.71)], "partial"),  # robust, no clear legibility gain
        ([_pv([0.45, 0.44, 0.46, 0.45], helpful_judge=0.71)], "not_reproduced"),
        ([_pv([0.45, 0.10, 0.20, 0.15]), _pv([0.45, 0.10, 0.20, 0.15])], "reproduced"),
        (
            [_pv([0.45, 0.10, 0.20, 0.15]), _pv([0.10, 0.45, 0.45, 0.45])],
            "partial",
        ),  # seeds disagree on robustness
    ],
)
def test_prover_verifier_verdict(records, verdict):
    from alignlab.experiments.prover_verifier import decide

    assert decide(records).verdict == verdict


# --- cai ----------------------------------------------------------------------------------------------


def _cai(harmful_score, benign_score, judge_agree, p_better):
    from alignlab.experiments.cai import CAIRecord, CritiquedReply

    def reply(kind, score, i):
        jitter = 0.1 * ((i * 7) % 5 - 2)
        return CritiquedReply(
            kind=kind, violation_score=min(1.0, max(0.0, score + jitter)), revised=True,
            p_revision_better=p_better + jitter / 2 if kind == "harmful" else 0.5, refused_before=False,
            refused_after=False,
        )  # fmt: skip

    replies = [reply("harmful", harmful_score, i) for i in range(24)] + [
        reply("benign_lookalike", benign_score, i) for i in range(24)
    ]
    agrees = [1] * round(judge_agree * 24) + [0] * (24 - round(judge_agree * 24))
    return CAIRecord(
        replies=replies, judge_gold_agrees=agrees, judge_p_first_shown=0.6, violation_labeler={}, critiques=144,
        critiques_unparsed=0, sl_cai_records=10, rl_cai_preferences=10,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_cai(0.8, 0.3, judge_agree=0.9, p_better=0.7), "reproduced"),
        (_cai(0.8, 0.3, judge_agree=0.5, p_better=0.7), "partial"),  # the judge is at chance: (b) untested
        (_cai(0.5, 0.5, judge_agree=0.9, p_better=0.7), "partial"),  # the critic does not separate
        (_cai(0.5, 0.5, judge_agree=0.5, p_better=0.9), "not_reproduced"),
        (_cai(0.8, 0.3, judge_agree=0.9, p_better=0.5), "partial"),
    ],
)
def test_cai_verdict(record, verdict):
    from alignlab.experiments.cai import decide

    assert decide([record]).verdict == verdict


# --- debate-qa ----------------------------------------------------------------------------------------


def _debate_qa(with_story, naive, consultancy, debate, n=60):
    from alignlab.experiments.debate_qa import DebateQARecord, JudgedQuestion

    def right(share, i):
        return int((i * 37 % n) / n < share)

    questions = [
        JudgedQuestion(with_story=right(with_story, i), naive=right(naive, i), consultancy=right(consultancy, i),
                       consultant_honest=i < n // 2, debate=right(debate, i), quote_baseline=None)
        for i in range(n)
    ]  # fmt: skip
    return DebateQARecord(questions=questions, p_first_shown={}, judge_failures=0)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_debate_qa(0.9, 0.5, 0.6, 0.8), "reproduced"),
        (_debate_qa(0.9, 0.5, 0.8, 0.8), "partial"),  # debate beats naive, not consultancy
        (_debate_qa(0.9, 0.5, 0.5, 0.52), "not_reproduced"),
        (_debate_qa(0.55, 0.5, 0.6, 0.9), "not_applicable"),  # the judge with the story is at chance
    ],
)
def test_debate_qa_verdict(record, verdict):
    from alignlab.experiments.debate_qa import decide

    assert decide([record]).verdict == verdict


# --- sycophancy -----------------------------------------------------------------------------------------


def _syco(known=30, dropped_doubt=12, dropped_neutral=2, plain=30, lost=10, gained=1, n=60):
    """``known`` questions right at first; of those, the right answer dropped after doubt / a neutral turn;
    ``plain`` right when asked plainly, of which ``lost`` go wrong with a suggestion, and ``gained`` wrong
    ones come right."""
    from alignlab.experiments.sycophancy import SycophancyRecord

    first = [i < known for i in range(n)]
    plain_correct = [i < plain for i in range(n)]
    suggested = [(i < plain and i >= lost) or (plain <= i < plain + gained) for i in range(n)]
    return SycophancyRecord(
        ids=[f"q{i}" for i in range(n)],
        first_correct=first,
        kept_after_doubt=[i < known and i >= dropped_doubt for i in range(n)],
        kept_after_neutral=[i < known and i >= dropped_neutral for i in range(n)],
        plain_correct=plain_correct,
        suggested_correct=suggested,
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_syco(), "reproduced"),
        (_syco(dropped_doubt=3), "partial"),  # doubt drops no more answers than a neutral turn
        (_syco(lost=2, gained=2), "partial"),  # the suggestion costs nothing
        (_syco(dropped_doubt=2, lost=1, gained=1), "not_reproduced"),
        (_syco(dropped_doubt=12, dropped_neutral=12, lost=0, gained=0), "not_reproduced"),  # ties
        (_syco(known=9), "not_applicable"),
        (_syco(plain=9, lost=2), "not_applicable"),
        (_syco(known=0, dropped_doubt=0, dropped_neutral=0, plain=0, lost=0, gained=0), "not_applicable"),
    ],
)
def test_sycophancy_verdict(record, verdict):
    from alignlab.experiments.sycophancy import decide

    assert decide([record]).verdict == verdict


# --- over-refusal ---------------------------------------------------------------------------------------


def _over(unsafe_p=0.6, safe_p=0.3, system_delta=0.1, baseline_p=0.05, noise=0.02, n_safe=50, n_unsafe=25):
    from alignlab.experiments.over_refusal import OverRefusalRecord, PromptRefusal

    def prompt(i, label, p):
        jitter = noise * ((i * 37 % 11) / 10 - 0.5)
        delta = system_delta if label == "safe" else 0.0
        return PromptRefusal(id=f"{label}-{i}", type="t", label=label, refused=p + jitter > 0.5,
                             refused_with_system=p + jitter + delta > 0.5, p_refusal=p + jitter,
                             p_refusal_with_system=p + jitter + delta * (1 + jitter))  # fmt: skip

    prompts = [prompt(i, "safe", safe_p) for i in range(n_safe)] + [
        prompt(i, "unsafe", unsafe_p) for i in range(n_unsafe)
    ]
    baseline = [baseline_p + noise * ((i * 13 % 7) / 6 - 0.5) for i in range(60)]
    return OverRefusalRecord(prompts=prompts, baseline_p_refusal=baseline)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_over(), "reproduced"),
        (_over(system_delta=0.0), "partial"),  # the system prompt changes nothing
        (_over(baseline_p=0.3), "partial"),  # look-alikes refused no more than plain questions
        (_over(system_delta=-0.05, baseline_p=0.31), "not_reproduced"),
        (_over(unsafe_p=0.3), "not_applicable"),  # refusals do not track harm
        (_over(n_unsafe=0), "not_applicable"),
    ],
)
def test_over_refusal_verdict(record, verdict):
    from alignlab.experiments.over_refusal import decide

    assert decide([record]).verdict == verdict


# --- calibration ----------------------------------------------------------------------------------------


def _calib(n=60, accuracy=0.6, confidence=None, p_true_right=0.7, p_true_wrong=0.4):
    """``accuracy`` of n questions right, each answered at ``confidence`` (default: the accuracy itself, i.e.
    calibrated); P(True) centred on the given values for right and wrong answers."""
    from alignlab.experiments.calibration import AnsweredQuestion, CalibrationRecord

    right = round(n * accuracy)
    conf = accuracy if confidence is None else confidence
    return CalibrationRecord(
        questions=[
            AnsweredQuestion(
                id=f"q{i}",
                confidence=conf,
                correct=i < right,
                p_true=(p_true_right if i < right else p_true_wrong) + 0.05 * ((i * 7 % 5) / 4 - 0.5),
            )
            for i in range(n)
        ]  # fmt: skip
    )


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_calib(n=400), "reproduced"),  # the ECE is 0; P(True) separates
        (_calib(n=400, confidence=0.95), "partial"),  # overconfident by 0.35
        (_calib(n=400, p_true_right=0.5, p_true_wrong=0.5), "partial"),  # P(True) blind
        (_calib(n=400, confidence=0.95, p_true_right=0.5, p_true_wrong=0.5), "not_reproduced"),
        (_calib(n=60, accuracy=0.05), "not_applicable"),  # 3 right answers
        (_calib(n=60, accuracy=1.0), "not_applicable"),
    ],
)
def test_calibration_verdict(record, verdict):
    from alignlab.experiments.calibration import decide

    assert decide([record]).verdict == verdict


def test_expected_calibration_error():
    from alignlab.evals import expected_calibration_error

    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)
    # two bins, each off by 0.1, weighted by size
    assert expected_calibration_error(
        [0.25] * 4 + [0.75] * 4, [False] * 4 + [True] * 2 + [False] * 2
    ) == pytest.approx(0.5 * 0.25 + 0.5 * 0.25)


# --- consistency ----------------------------------------------------------------------------------------


def _consistent(n=48, known=30, alike=2, order_same=20):
    """``known`` facts right on the first wording; in each fact ``alike`` of the three wordings give the
    first wording's answer; ``order_same`` facts keep their option when the order is reversed."""
    from alignlab.experiments.consistency import ConsistencyRecord, FactAnswers

    facts = []
    for i in range(n):
        answers = ["x"] * alike + [f"other{j}" for j in range(3 - alike)]
        facts.append(FactAnswers(relation=("capital", "language", "continent")[i % 3], subject=f"s{i}",
                                 answers=answers, correct=[i < known, False, False], forward="x",
                                 reversed="x" if i < order_same else "y"))  # fmt: skip
    return ConsistencyRecord(facts=facts)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_consistent(), "reproduced"),  # one wording pair in three alike (0.33): poor but above 0.25
        (_consistent(alike=1), "partial"),  # no two wordings alike: below what random answers give
        (_consistent(alike=3, order_same=20), "partial"),  # perfectly consistent wordings
        (_consistent(alike=3, order_same=48), "not_reproduced"),
        (_consistent(known=12), "not_applicable"),  # 12/48 = chance
    ],
)
def test_consistency_verdict(record, verdict):
    from alignlab.experiments.consistency import decide

    assert decide([record]).verdict == verdict


# --- sycophancy-rm --------------------------------------------------------------------------------------


def _syco_rm(learned=60, prompts=24, agree_pick=0.7, truth_pick=0.1, base=0.3):
    """Pools of 10 replies, ``base`` of them sycophantic; in the given share of prompts each reward model
    scores a sycophantic reply highest."""
    from alignlab.experiments.sycophancy_rm import PromptPool, SycophancyRMRecord

    pools = []
    for i in range(prompts):
        syc = [j < round(10 * base) for j in range(10)]

        def scores(share, i=i, syc=syc):
            top_syc = (i * 7 % prompts) / prompts < share
            return [1.0 if s == top_syc else 0.0 for s in syc]

        pools.append(
            PromptPool(sycophantic=syc, reward_agree=scores(agree_pick), reward_truth=scores(truth_pick))
        )
    return SycophancyRMRecord(held_out_agree_preferred=learned, held_out_pairs=72, truth_model_agree_preferred=3,
                              pools=pools)  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_syco_rm(), "reproduced"),
        (_syco_rm(agree_pick=0.35, truth_pick=0.0), "partial"),  # above the truth model, not above one reply
        (_syco_rm(agree_pick=0.9, truth_pick=0.9), "partial"),  # both pick sycophantic replies
        (_syco_rm(agree_pick=0.3, truth_pick=0.3), "not_reproduced"),
        (_syco_rm(learned=40), "not_applicable"),  # 40/72: no learned preference for agreeing
        (_syco_rm(prompts=0), "not_applicable"),
    ],
)
def test_sycophancy_rm_verdict(record, verdict):
    from alignlab.experiments.sycophancy_rm import decide

    assert decide([record]).verdict == verdict
    assert decide([record, record]).verdict == verdict  # seeds pool


# --- overconfidence-rm ----------------------------------------------------------------------------------


def _overconfidence(vanilla_bias=0.5, calibrated_bias=0.0, ordered=60, noise=0.2, questions=24):
    """Per question, the wrong answer's reward at high confidence exceeds that at low by the bias, give or take
    ``noise`` (alternating signs, so the spread is real)."""
    from alignlab.experiments.overconfidence_rm import AnswerRewards, OverconfidenceRMRecord, ReplyPool

    def rewards(bias):
        jitter = [noise * (1 if i % 2 else -1) * (1 + i % 3) for i in range(questions)]
        return AnswerRewards(right_high=[1.0] * questions, right_low=[0.8] * questions,
                             wrong_low=[0.0] * questions, wrong_high=[bias + j for j in jitter])  # fmt: skip

    pool = ReplyPool(right=[True, False], confident=[False, True], reward_vanilla=[0.0, 1.0],
                     reward_calibrated=[1.0, 0.0])  # fmt: skip
    return OverconfidenceRMRecord(
        held_out_ordered={"vanilla": ordered, "calibrated": 50}, held_out_pairs=72,
        answers={"vanilla": rewards(vanilla_bias), "calibrated": rewards(calibrated_bias)}, pools=[pool] * 4,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_overconfidence(), "reproduced"),
        (_overconfidence(calibrated_bias=0.5), "partial"),  # biased, and the calibration does not help
        (
            _overconfidence(vanilla_bias=0.0, calibrated_bias=-0.5),
            "partial",
        ),  # no bias, calibration pushes below
        (_overconfidence(vanilla_bias=0.05, calibrated_bias=0.05), "not_reproduced"),  # within noise
        (_overconfidence(ordered=40), "not_applicable"),  # 40/72: the vanilla model did not learn the labels
    ],
)
def test_overconfidence_rm_verdict(record, verdict):
    from alignlab.experiments.overconfidence_rm import decide

    assert decide([record]).verdict == verdict
    assert decide([record, record]).verdict == verdict  # seeds pool


def test_overconfidence_rm_figures_follow_the_picks():
    from alignlab.experiments.overconfidence_rm import decide

    figures = decide([_overconfidence(noise=0.0)]).figures
    assert figures["best_of_n_vanilla_confident_and_wrong"] == 1.0  # it picks the confident wrong reply
    assert figures["best_of_n_calibrated_confident_and_wrong"] == 0.0
    assert figures["one_reply_confident_and_wrong"] == 0.5
    assert figures["vanilla_confident_wrong_beats_hedged_right"] == 0.0  # 0.5 < the hedged right answer's 0.8
    assert (
        decide([_overconfidence(vanilla_bias=1.0, noise=0.0)]).figures[
            "vanilla_confident_wrong_beats_hedged_right"
        ]
        == 1.0
    )


# --- many-shot ------------------------------------------------------------------------------------------


def _shots(first=1.2, last=0.3, plain=3.0, noise=0.1, questions=24):
    from alignlab.experiments.many_shot import ManyShotRecord

    def row(mean):
        return [mean + noise * ((q * 7 % 5) / 4 - 0.5) for q in range(questions)]

    ns = [1, 4, 16, 64]
    style = [row(first + (last - first) * i / 3) for i in range(4)]
    return ManyShotRecord(shots=ns, style_nll=style, plain_nll=[row(plain)] * 4)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_shots(), "reproduced"),
        (_shots(plain=0.3), "partial"),  # plain turns do as well: context length alone
        (_shots(last=1.2, plain=3.0), "partial"),  # no fall with shots, yet below plain turns
        (_shots(last=1.2, plain=1.2), "not_reproduced"),
        (_shots(questions=0), "not_applicable"),
    ],
)
def test_many_shot_verdict(record, verdict):
    from alignlab.experiments.many_shot import decide

    assert decide([record]).verdict == verdict
    if record.style_nll[0]:  # the fine-tuned-against control is reported, never scored
        tuned = record.model_copy(
            update={"tuned_style_nll": [[x + 1 for x in row] for row in record.style_nll]}
        )
        decision = decide([tuned])
        assert decision.verdict == verdict and "control, not scored" in decision.reasons[-1]


# --- red-team-rl ----------------------------------------------------------------------------------------


def _red_team(zero=37, rl=900, bleu_zero=0.22, bleu_rl=0.7, n=1000):
    from alignlab.experiments.red_team_rl import MethodResult, RedTeamRLRecord

    def method(name, failures, bleu):
        return MethodResult(method=name, failures=failures, attempts=n, errors=0, self_bleu=bleu,
                            self_bleu_se=0.01, distinct_2=0.5)  # fmt: skip

    return RedTeamRLRecord(methods=[method("zero-shot", zero, bleu_zero), method("rl-kl-0.1", rl, bleu_rl)],
                           rl_method="rl-kl-0.1")  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_red_team(), "reproduced"),
        (_red_team(bleu_rl=0.23), "partial"),  # more failures, as diverse as zero-shot
        (_red_team(rl=45), "not_reproduced"),  # 4.5% vs 3.7%: inside the noise
        (_red_team(zero=0), "not_applicable"),
    ],
)
def test_red_team_rl_verdict(record, verdict):
    from alignlab.experiments.red_team_rl import decide

    assert decide([record]).verdict == verdict
    assert decide([record, record]).verdict == verdict
    if verdict != "not_applicable":
        assert decide([record]).figures["failure_rate_rl"] == record.methods[1].failures / 1000


# --- gcg ------------------------------------------------------------------------------------------------


def _gcg(gcg_hits=14, random_hits=3, transfers=8, start=0, n=16):
    from alignlab.experiments.gcg import Behaviour, GCGRecord

    return GCGRecord(steps=60, behaviours=[
        Behaviour(gcg_first_success=10 if i < gcg_hits else None, random_first_success=30 if i < random_hits else None,
                  start_emits=i < start, transfer_emits=i < transfers, transfer_start_emits=False,
                  gcg_loss=[1.0], random_loss=[1.0])
        for i in range(n)
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_gcg(), "reproduced"),
        (_gcg(transfers=1), "partial"),  # white-box works, transfer not shown
        (_gcg(random_hits=12), "not_reproduced"),  # random proposals do as well
        (_gcg(start=9), "not_applicable"),  # the start suffix already works
        (_gcg(n=0), "not_applicable"),
    ],
)
def test_gcg_verdict(record, verdict):
    from alignlab.experiments.gcg import decide

    assert decide([record]).verdict == verdict


# --- fuzzing --------------------------------------------------------------------------------------------


def _fuzzing(plain=0.8, seed=0.55, fuzzed=0.3, first=0.1, last=0.5, n=24, queries=120):
    from alignlab.experiments.fuzzing import FuzzingRecord

    wobble = [0.05 * ((i * 7 % 5) / 4 - 0.5) for i in range(n)]
    third = queries // 3
    hits = (
        [int(i % 10 < first * 10) for i in range(third)]
        + [0] * third
        + [int(i % 10 < last * 10) for i in range(third)]
    )
    return FuzzingRecord(plain_refusal=[plain + w for w in wobble], seed_refusal=[seed + w for w in wobble],
                         fuzzed_refusal=[fuzzed - w for w in wobble], search_hits=hits, best_seed="a {query}",
                         best_fuzzed="b {query}")  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_fuzzing(), "reproduced"),
        (_fuzzing(last=0.1), "partial"),  # better held-out template, but the search did not improve
        (_fuzzing(fuzzed=0.55), "not_reproduced"),
        (_fuzzing(plain=0.3), "not_applicable"),  # the target does not refuse: nothing to jailbreak
        (_fuzzing(n=0), "not_applicable"),
    ],
)
def test_fuzzing_verdict(record, verdict):
    from alignlab.experiments.fuzzing import decide

    assert decide([record]).verdict == verdict


# --- emergence-mirage -----------------------------------------------------------------------------------


def _emergence(
    exact_curve=(0.0, 0.0, 0.0, 0.05, 0.6, 0.9), token_curve=(0.3, 0.45, 0.6, 0.72, 0.88, 0.97), n=200
):
    from alignlab.experiments.emergence import EmergenceRecord

    def rows(curve, binary):
        return [
            [int(i < round(p * n)) if binary else min(1.0, p + 0.02 * ((i % 5) - 2)) for i in range(n)]
            for p in curve
        ]

    return EmergenceRecord(widths=[8, 16, 24, 32, 48, 64], parameters=[1, 2, 3, 4, 5, 6], exact=rows(exact_curve, True),
                           per_token=rows(token_curve, False), edit_score=rows(token_curve, False))  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_emergence(), "reproduced"),
        (_emergence(token_curve=(0.3, 0.3, 0.3, 0.35, 0.85, 0.95)), "not_reproduced"),  # per-token jumps too
        (_emergence(exact_curve=(0.0, 0.0, 0.02, 0.03, 0.04, 0.05)), "not_applicable"),  # no jump to explain
    ],
)
def test_emergence_verdict(record, verdict):
    import numpy as np

    from alignlab.experiments.emergence import decide, levenshtein, sharpness

    assert decide([record]).verdict == verdict
    assert levenshtein("1234", "1243") == 2 and levenshtein("", "12") == 2 and levenshtein("12", "12") == 0
    assert sharpness(np.array([0.0, 0.0, 1.0])) == 1.0 and sharpness(np.array([0.0, 0.5, 1.0])) == 0.5


# --- chinchilla -----------------------------------------------------------------------------------------------


def _chinchilla(alpha=0.35, beta=0.35, curves=None, data_term=1.0, noise=0.003, seed=0):
    """An IsoFLOP grid (four budgets, five sizes each, a 2k-300k ladder) whose final losses follow
    L = E + A/N^alpha + B/D^beta times lognormal noise, with training curves at each eighth of each run's
    tokens from the law with exponents ``curves`` (default: the same law)."""
    from alignlab.experiments.chinchilla import ChinchillaRecord, SweepRun
    from alignlab.scaling import chinchilla_loss

    rng = np.random.default_rng(seed)
    sizes = np.geomspace(2e3, 3e5, 8).astype(int)

    def law(a, b):  # A and B put the optimum near 20 tokens per parameter at these budgets
        return dict(E=1.8, A=3e4**a, B=data_term * 6e5**b, alpha=a, beta=b)

    def loss(n, d, exponents):
        return float(chinchilla_loss(n, d, **law(*exponents)) * np.exp(noise * rng.standard_normal()))

    runs = []
    for i, budget in enumerate((1e10, 3e10, 1e11, 3e11)):
        for n in sizes[i : i + 5]:
            d = int(budget / (6 * n))
            curve = [(d * k // 8, loss(n, d * k // 8, curves or (alpha, beta))) for k in range(1, 8)]
            final = loss(n, d, (alpha, beta))
            runs.append(SweepRun(budget=budget, width=8, parameters=int(n) + 1000, non_embedding_parameters=int(n),
                                 tokens=d, loss=final, curve=[*curve, (d, final)]))  # fmt: skip
    return ChinchillaRecord(runs=runs, floor=1.8, cached=0)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_chinchilla(), "reproduced"),  # a = 0.5, and every approach finds it
        (
            _chinchilla(curves=(0.2, 0.55)),
            "partial",
        ),  # the training curves say otherwise than the final losses
        (_chinchilla(alpha=0.2, beta=0.55), "not_reproduced"),  # Kaplan's a = 0.73, off the grid's diagonal
        (_chinchilla(data_term=1e-6), "not_applicable"),  # bigger is always better: no IsoFLOP minimum
    ],
)
@pytest.mark.slow  # each decision fits approach 3 from 432 starts, then 40 bootstrap refits
def test_chinchilla_verdict(record, verdict):
    from alignlab.experiments.chinchilla import decide

    decision = decide([record], resamples=40)
    assert decision.verdict == verdict, decision.reasons


# --- cot-faithfulness -----------------------------------------------------------------------------------------


def _cot(needs_aoc_rows=(0, 0, 0, 0, 0, 1), post_hoc_rows=(1, 1, 1, 1, 1, 1), needs_mistake=0.9, post_hoc_mistake=0.05,
         gain=0.6, direct_easy=0.95, n=100):  # fmt: skip
    from alignlab.experiments.cot_faithfulness import CotRecord, RegimeResult

    def result(terms, width, rows, mistake, with_reasoning, direct):
        same = [list(rows) if i % 10 else [1.0] * 6 for i in range(n)]  # one question in ten never moves
        return RegimeResult(terms=terms, width=width, parameters=width * 100, accuracy_with_reasoning=with_reasoning,
                            accuracy_direct=direct, accuracy_filler=direct, early_same=same,
                            mistake_changed=[float(i < mistake * n) for i in range(n)], filler_changed=[0.0] * n)  # fmt: skip

    results = [result(2, w, post_hoc_rows, post_hoc_mistake, 0.97, direct_easy) for w in (32, 64)]
    results += [result(6, w, needs_aoc_rows, needs_mistake, 0.7, 0.7 - gain) for w in (32, 64)]
    return CotRecord(fractions=[0, 0.2, 0.4, 0.6, 0.8, 1.0], results=results)


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_cot(), "reproduced"),
        (_cot(needs_mistake=0.05), "partial"),  # truncation matters, mistakes do not
        (
            _cot(needs_aoc_rows=(1, 1, 1, 1, 1, 1), needs_mistake=0.05),
            "not_reproduced",
        ),  # post hoc everywhere
        (_cot(gain=0.05), "not_applicable"),  # the scratchpad does not help: nothing needs reasoning
        (_cot(direct_easy=0.2), "not_applicable"),  # the easy task is not answered without reasoning
    ],
)
def test_cot_faithfulness_verdict(record, verdict):
    from alignlab.experiments.cot_faithfulness import aoc, decide, make_question

    decision = decide([record])
    assert decision.verdict == verdict, decision.reasons
    assert aoc([[0, 0, 1], [1, 1, 1]], [0, 0.5, 1]).tolist() == [0.75, 0.0]
    import random

    question, reasoning, answer = make_question(random.Random(0), 4, 17)
    numbers = [int(x) for x in question.split()]
    assert [int(x) for x in reasoning.split()] == [sum(numbers[: i + 1]) % 17 for i in range(3)]
    assert int(answer) == sum(numbers) % 17


# --- amplification --------------------------------------------------------------------------------------------


def _amplification(amplified=0.97, supervised=0.98, alone_hard=0.06, n=512):
    from alignlab.experiments.amplification import AmplificationRecord, MethodRun

    powers = [1 + i // 16 for i in range(n)]

    def run(share, hard_share=None):
        return MethodRun(curve=[share], correct=[int((i * 37 % n) < (share if hard_share is None or k == 1 else hard_share) * n)
                                                 for i, k in enumerate(powers)])  # fmt: skip

    return AmplificationRecord(powers=powers, amplified=run(amplified), supervised=run(supervised),
                               overseer_alone=run(1.0, alone_hard), model_calls_per_round=992,
                               ground_truth_labels={"amplified": 16, "supervised": n, "overseer_alone": 16})  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_amplification(), "reproduced"),
        (
            _amplification(amplified=0.6),
            "partial",
        ),  # learns beyond the overseer, but well short of supervised
        (_amplification(amplified=0.07), "not_reproduced"),  # nothing beyond what the overseer knows
        (
            _amplification(supervised=0.5),
            "not_applicable",
        ),  # the model cannot learn the task even from the truth
    ],
)
def test_amplification_verdict(record, verdict):
    from alignlab.experiments.amplification import decide, overseer_for, power

    decision = decide([record])
    assert decision.verdict == verdict, decision.reasons
    sigma = [2, 0, 3, 1]
    assert [power(sigma, 0, k) for k in range(5)] == [0, 2, 3, 1, 0]
    oracle = lambda batch: [power(sigma, x, k) for x, k in batch]  # noqa: E731  a model that knows the table
    questions = [(0, 1), (0, 3), (2, 4)]
    assert overseer_for(sigma)(questions, oracle) == [2, 1, 2]  # amplifying a right model gives right answers
    assert overseer_for(sigma)(questions, lambda batch: [0] * len(batch))[1:] == [
        0,
        0,
    ]  # and a wrong one, wrong


# --- unfaithful-explanations ----------------------------------------------------------------------------------


def _explanations(n=60, right=50, flipped=20, mentioned=3):
    """``right`` questions answered right in the control; of those, ``flipped`` switch to the suggested (wrong)
    option, ``mentioned`` of which say so."""
    from alignlab.experiments.unfaithful_explanations import ExplanationsRecord

    targets, suggested = ["A"] * n, ["B"] * n
    neutral = ["A" if i < right else "C" for i in range(n)]
    biased = ["B" if i < flipped else neutral[i] for i in range(n)]
    return ExplanationsRecord(ids=[str(i) for i in range(n)], suggested=suggested, targets=targets, neutral_answers=neutral,
                              biased_answers=biased, neutral_mentions=[False] * n,
                              biased_mentions=[i < mentioned for i in range(n)])  # fmt: skip


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        (_explanations(), "reproduced"),  # 20 of 50 pulled to the suggestion, 3 of them say so
        (_explanations(mentioned=18), "partial"),  # pulled, but the reasoning admits it
        (_explanations(flipped=1, mentioned=1), "not_reproduced"),
        (_explanations(flipped=0), "not_reproduced"),  # nothing followed: no explanation to check
        (_explanations(right=5, flipped=2), "not_applicable"),
        (
            _explanations(right=14, flipped=10),
            "not_applicable",
        ),  # 14 of 60 is a guesser's 25%: nothing to pull
    ],
)
def test_unfaithful_explanations_verdict(record, verdict):
    from alignlab.experiments.unfaithful_explanations import decide

    decision = decide([record])
    assert decision.verdict == verdict, decision.reasons
    assert "None" not in str(decision.figures)
