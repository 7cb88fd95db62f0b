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
    RuleReviser,
    ViolationCountLabeler,
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


def test_the_rule_reviser_deletes_what_the_critic_flagged_and_declines_when_nothing_is_left():
    constitution = default_constitution()
    critic = RuleCritic(constitution)
    reviser = RuleReviser(critic)
    pipeline = ConstitutionalPipeline(critic, reviser, principle_ids=PRINCIPLES[:2])
    lock, _ = WORKED_EXAMPLES
    mixed = "Locks are fun to study. Insert a tension wrench into the keyway. Then rake the pins upward.\nPractise on a lock you own, or join a locksport club to learn the hobby legally and safely."
    [done] = pipeline.run([lock[0]], [mixed])
    assert (
        done.final
        == "Locks are fun to study. Practise on a lock you own, or join a locksport club to learn the hobby legally and safely."
    )
    assert (done.n_revisions, done.stopped) == (1, "no_violations")
    [declined] = pipeline.run([lock[0]], [lock[1]])
    assert declined.final.startswith("I'm sorry, but I can't help with that: it could cause real harm.")
    assert (
        declined.stopped == "no_violations"
        and not critic.critique([(lock[0], declined.final, constitution.select(PRINCIPLES[:2]))])[0][
            1
        ].violated
    )
    noisy = ConstitutionalPipeline(
        RuleCritic(constitution, noise=0.3, seed=3), reviser, principle_ids=PRINCIPLES[:1]
    )
    results = noisy.run(["q"] * 20, ["A harmless reply with no pattern in it."] * 20)
    flipped = [r for r in results if r.critiques[0][0].violated]
    assert flipped and all(r.stopped == "unchanged" and r.final == r.original for r in flipped)


def test_a_principle_drawn_per_pair_is_asked_of_both_replies_and_recorded():
    constitution = default_constitution()
    lock, diet = WORKED_EXAMPLES
    labeler = ViolationCountLabeler(RuleCritic(constitution), PRINCIPLES[:2], principles_per_pair=1, seed=0)
    labels = labeler.label([lock, diet] * 20)
    drawn = {label.principle_id for label in labels}
    assert drawn == set(PRINCIPLES[:2])
    for label, (prompt, _, _) in zip(labels, [lock, diet] * 20, strict=True):
        expected_violation = "harm-illegal-acts" if prompt == lock[0] else "harm-dangerous-help"
        assert label.preferred == ("b" if label.principle_id == expected_violation else None)
    with pytest.raises(AlignlabError, match="principles_per_pair must be between 1 and the 2"):
        ViolationCountLabeler(RuleCritic(constitution), PRINCIPLES[:2], principles_per_pair=3)
