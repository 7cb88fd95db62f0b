"""The RLAIF data generator and the programmatic critic, end to end on the worked examples, and preference
labels under a principle drawn per comparison."""

import json

import pytest

from alignlab.data.formats import load_preferences
from alignlab.errors import AlignlabError
from alignlab.generation import HFGenerator, SamplingParams
from alignlab.oversight import (
    WORKED_EXAMPLES,
    ConstitutionalPipeline,
    PairwiseJudge,
    Reviser,
    RLAIFDataGenerator,
    RuleCritic,
    default_constitution,
    trl_preferences,
    write_rlaif_records,
)

PRINCIPLES = ["harm-dangerous-help", "harm-illegal-acts", "help-no-needless-refusal", "help-clear"]


def test_the_rule_critic_follows_its_patterns_and_never_invents_a_verdict():
    constitution = default_constitution()
    critic = RuleCritic(constitution)
    lock, diet = WORKED_EXAMPLES
    principles = constitution.select(PRINCIPLES)
    harmful, careful, refusal = critic.critique(
        [(lock[0], lock[1], principles), (lock[0], lock[2], principles), ("Hi", "Sorry, I can't help.", principles)]
    )  # fmt: skip
    assert [c.violated for c in harmful] == [False, True, False, None]  # help-clear has no rule: unparsed
    assert "'tension wrench'" in harmful[1].explanation and harmful[1].suggestion.startswith("Remove")
    assert [c.violated for c in careful] == [False, False, False, None]
    assert refusal[2].violated is True
    assert critic.critique([(diet[0], diet[1], principles[:1])])[0][0].violated
    noisy = RuleCritic(constitution, noise=0.2, seed=1)
    flips = sum(c.violated for [c] in noisy.critique([("q", "fine text", principles[:1])] * 2000))
    assert 0.17 < flips / 2000 < 0.23
    with pytest.raises(AlignlabError, match="noise must be in"):
        RuleCritic(constitution, noise=0.5)
    with pytest.raises(AlignlabError, match="no principle 'made-up'"):
        RuleCritic(constitution, {"made-up": ["x"]})


def test_the_generator_labels_both_worked_examples_with_their_violations_and_exports_trl(toy, tmp_path):
    constitution = default_constitution()
    pipeline = ConstitutionalPipeline(
        RuleCritic(constitution), Reviser(HFGenerator(*toy), constitution, SamplingParams(max_new_tokens=8)),
        principle_ids=PRINCIPLES[:3],
    )  # fmt: skip
    records = RLAIFDataGenerator(pipeline).generate(*zip(*WORKED_EXAMPLES, strict=True))
    lock, diet = records
    assert (lock.violations_a, lock.violations_b) == (["harm-illegal-acts"], [])
    assert (diet.violations_a, diet.violations_b) == (["harm-dangerous-help"], [])
    assert [r.preferred for r in records] == ["b", "b"] and lock.confidence == pytest.approx(1 / 3)
    assert lock.principles == PRINCIPLES[:3] and "A violates 1 (harm-illegal-acts)" in lock.rationale
    assert lock.revised_a != lock.response_a and lock.revised_b == lock.response_b  # only A was revised
    exported = trl_preferences(records)
    assert exported[0] == {"prompt": lock.prompt, "chosen": lock.response_b, "rejected": lock.response_a}
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in exported))
    assert len(load_preferences(path)) == 2  # what the trainers read
    written = write_rlaif_records(tmp_path / "records.jsonl", records)
    assert json.loads(written.read_text().splitlines()[1])["violations_a"] == ["harm-dangerous-help"]
    tie = RLAIFDataGenerator(pipeline).generate(["q"], ["same text"], ["other text"])[0]
    assert tie.preferred == "tie" and trl_preferences([tie]) == []


def test_the_generator_refuses_what_would_make_counts_incomparable(toy):
    constitution = default_constitution()
    sampled = ConstitutionalPipeline(
        RuleCritic(constitution), Reviser(HFGenerator(*toy)), principles_per_round=1
    )
    with pytest.raises(AlignlabError, match="principles_per_round=None"):
        RLAIFDataGenerator(sampled)
    generator = RLAIFDataGenerator(
        ConstitutionalPipeline(RuleCritic(constitution), Reviser(HFGenerator(*toy)))
    )
    with pytest.raises(AlignlabError, match="as long as each other: 2, 1, 2"):
        generator.generate(["a", "b"], ["x"], ["y", "z"])
    with pytest.raises(AlignlabError, match="temperature 0"):
        generator.sample_and_generate(HFGenerator(*toy), ["w1"], SamplingParams(temperature=0))


def test_a_principle_is_drawn_per_comparison_and_recorded(toy):
    constitution = default_constitution()
    judge = PairwiseJudge(HFGenerator(*toy), constitution=constitution, principle_ids=PRINCIPLES, seed=3)
    labels = judge.label([("w1", "w2", "w3")] * 12)
    drawn = [label.principle_id for label in labels]
    assert set(drawn) <= set(PRINCIPLES) and len(set(drawn)) > 1  # drawn anew for each pair
    again = PairwiseJudge(HFGenerator(*toy), constitution=constitution, principle_ids=PRINCIPLES, seed=3)
    assert [label.principle_id for label in again.label([("w1", "w2", "w3")] * 12)] == drawn
    text = judge.prompt("Is 7 prime?", "Yes.", "No.", constitution.get("honest-no-falsehoods").comparison)
    assert "Choose the response that contains fewer false statements." in text and "Reply 2: No." in text
