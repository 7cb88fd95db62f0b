"""AI preference labelers: choice-token probabilities, both orders, agreement and position bias."""

import math

import pytest

from alignlab.data.builtin_data import load_builtin
from alignlab.generation import Completion, HFGenerator, OpenAIGenerator, SamplingParams
from alignlab.oversight import (
    Critic,
    PairwiseJudge,
    PreferenceLabel,
    ViolationCountLabeler,
    labeler_report,
    preference_records,
)
from alignlab.oversight.rlaif import choice_probability


def test_choice_probability_renormalises_the_two_choice_tokens():
    completion = Completion(
        "1", "length", top_logprobs=[{"1": math.log(0.6), " 2": math.log(0.2), "I": -0.5}]
    )
    assert choice_probability(completion) == pytest.approx(0.75)
    assert choice_probability(Completion("I", "length", top_logprobs=[{"I": -0.1}])) is None
    assert choice_probability(Completion("1", "length")) is None  # no log-probabilities returned


def test_labeler_report_counts_agreement_ties_failures_and_position_bias():
    labels = [
        PreferenceLabel("a", 0.4, "", p_a=0.7, p_first=(0.9, 0.5)),
        PreferenceLabel("b", 0.2, "", p_a=0.4, p_first=(0.6, 0.8)),
        PreferenceLabel(None, 0.0, "", p_a=0.5, p_first=(0.5, 0.5)),
        PreferenceLabel(None, 0.0, "unparsed", failed=True),
    ]
    report = labeler_report(labels, ["a", "a", "b", "a"])
    assert report["n"] == 4 and report["decided"] == 2 and report["ties"] == 1 and report["failed"] == 1
    assert report["agreement"] == 0.5
    assert report["p_first_shown"] == pytest.approx((0.9 + 0.5 + 0.6 + 0.8 + 0.5 + 0.5) / 6)
    assert report["order_inconsistent"] == pytest.approx(1 / 3)  # the second: the first slot wins both times
    records = preference_records(
        [("q1", "x", "y"), ("q2", "u", "v"), ("q3", "s", "t"), ("q4", "m", "n")], labels
    )
    assert records == [
        {"prompt": "q1", "chosen": "x", "rejected": "y"},
        {"prompt": "q2", "chosen": "v", "rejected": "u"},
    ]


def _pairs(n):
    rows = load_builtin("quickstart_pairs", required=("prompt", "chosen", "rejected"))[:n]
    # Gold alternates between the slots so that a judge always answering "1" scores 50%.
    triples = [
        (r["prompt"], r["chosen"], r["rejected"]) if i % 2 == 0 else (r["prompt"], r["rejected"], r["chosen"])
        for i, r in enumerate(rows)
    ]
    return triples, ["a" if i % 2 == 0 else "b" for i in range(len(rows))]


@pytest.mark.slow
@pytest.mark.embedded
def test_pairwise_judge_on_the_embedded_model_locally_and_over_http(embedded, serve):
    triples, gold = _pairs(6)
    local = PairwiseJudge(HFGenerator(*embedded)).label(triples)
    assert all(not label.failed and 0 <= label.p_a <= 1 for label in local)
    for label in local:
        p_ab, p_ba = label.p_first
        assert label.p_a == pytest.approx((p_ab + 1 - p_ba) / 2)
    url = serve(HFGenerator(*embedded), "smollm2-135m-instruct")
    remote = PairwiseJudge(OpenAIGenerator("smollm2-135m-instruct", base_url=url)).label(triples)
    assert [r.p_a for r in remote] == pytest.approx([label.p_a for label in local], abs=1e-4)
    report = labeler_report(local, gold)
    assert report["decided"] + report["ties"] + report["failed"] == 6


def test_a_judge_that_cannot_answer_1_or_2_is_a_counted_failure(toy):
    """The toy model's vocabulary has no "1" or "2": every judgement fails, and says so."""
    labels = PairwiseJudge(HFGenerator(*toy)).label([("w3 w4", "w5 w6", "w7 w8")] * 2)
    assert all(label.failed and label.preferred is None for label in labels)
    assert "no choice token" in labels[0].rationale
    assert labeler_report(labels, ["a", "b"])["failed"] == 2


@pytest.mark.slow
@pytest.mark.embedded
def test_violation_count_labeler_prefers_the_reply_with_fewer_violations(embedded):
    critic = Critic(
        HFGenerator(*embedded), params=SamplingParams(max_new_tokens=8, logprobs=True, top_logprobs=20)
    )
    labeler = ViolationCountLabeler(critic, ["ethics-manipulation", "harm-illegal-acts"])
    triples = [
        (
            "How can I make my sister feel guilty so she lends me money?",
            "Remind her of every favour you ever did and tell her she owes you.",
            "Ask her honestly, explain why you need it, and accept her answer.",
        )
    ]
    [label] = labeler.label(triples)
    critiques = critic.critique([(q, r, labeler.principles) for q, a, b in triples for r in (a, b)])
    v_a, v_b = (sum(bool(c.violated) for c in cs) for cs in critiques)
    assert label.preferred == (None if v_a == v_b else "a" if v_a < v_b else "b")
    assert label.confidence == abs(v_a - v_b) / 2
    assert f"A violates {v_a}" in label.rationale
