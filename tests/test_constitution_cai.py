"""The constitution file format and the critique → revision pipeline, on the embedded model and over HTTP."""

import pytest

from alignlab.errors import AlignlabError
from alignlab.generation import Completion, HFGenerator, SamplingParams
from alignlab.oversight import (
    ConstitutionalPipeline,
    Critic,
    Reviser,
    default_constitution,
    load_constitution,
    sl_cai_records,
)
from alignlab.oversight.cai import clean_reply, parse_critique


def test_default_constitution_has_sixteen_principles_in_four_categories():
    c = default_constitution()
    assert len(c) == 16 and len(set(c.ids)) == 16
    for category in ("harmlessness", "helpfulness", "honesty", "ethics"):
        assert len(c.by_category(category)) == 4
    assert c.get("harm-hateful").category == "harmlessness"
    assert [p.id for p in c.select(["honest-uncertainty", "ethics-privacy"])] == [
        "honest-uncertainty",
        "ethics-privacy",
    ]
    with pytest.raises(AlignlabError, match="no principle 'harm-nope'.*harm-hateful"):
        c.get("harm-nope")
    with pytest.raises(AlignlabError, match="unknown category 'kindness'"):
        c.by_category("kindness")


GOOD = """name: mine
principles:
  - id: be-kind
    category: ethics
    statement: Be kind.
    critique: Is the reply unkind?
    revision: Make it kind.
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("category: ethics", "category: kindness"),
            r"principle 1 \('be-kind'\), field 'category'",
        ),
        (
            GOOD.replace("    critique: Is the reply unkind?\n", ""),
            r"principle 1 \('be-kind'\), field 'critique'.*required",
        ),
        (GOOD + GOOD.split("principles:\n")[1], "principle id 'be-kind' appears twice"),
        (GOOD.replace("statement:", "statment:"), "field 'statment'"),
        ("principles: [", "not valid YAML"),
        ("- just a list", "expected a mapping"),
        ("name: empty\nprinciples: []", "field principles"),
    ],
)
def test_a_malformed_constitution_names_the_file_principle_and_field(tmp_path, text, message):
    path = tmp_path / "constitution.yaml"
    path.write_text(text)
    with pytest.raises(AlignlabError, match=message) as info:
        load_constitution(path)
    assert str(path) in str(info.value)


def test_a_valid_file_loads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    assert load_constitution(path).get("be-kind").revision == "Make it kind."
    with pytest.raises(AlignlabError, match="no such constitution file"):
        load_constitution(tmp_path / "missing.yaml")


def _completion(text, first_token_logprobs=None):
    return Completion(
        text=text, finish_reason="stop", top_logprobs=[first_token_logprobs] if first_token_logprobs else None
    )


def test_critiques_are_read_from_the_first_word_then_from_first_token_probabilities():
    said_yes = parse_critique("p", _completion("Yes. Severity: 4. It explains how to break in."))
    assert (said_yes.violated, said_yes.severity, said_yes.verdict_from) == (True, 4, "text")
    assert said_yes.explanation == "It explains how to break in"
    said_no = parse_critique("p", _completion("no, it is fine", {"no": -0.1, "Yes": -2.5}))
    assert (said_no.violated, said_no.severity) == (False, None)
    assert said_no.p_violation == pytest.approx(0.0821 / (0.0821 + 0.9048), abs=1e-3)
    from_probs = parse_critique(
        "p", _completion("Severity: 2. The reply is rude.", {" Yes": -0.3, " No": -1.5, "Se": -2})
    )
    assert (from_probs.violated, from_probs.verdict_from, from_probs.severity) == (True, "logprobs", 2)
    neither = parse_critique("p", _completion("1. Check the lock", {"1": -0.1}))
    assert neither.violated is None and not neither.parsed and neither.verdict_from is None


def test_clean_reply_drops_labels_and_quotes():
    assert clean_reply('Revised reply: "I can\'t help with that."') == "I can't help with that."
    assert clean_reply("Response: Sure.") == "Sure."
    assert clean_reply("Canberra is the capital.") == "Canberra is the capital."


PROMPTS = ["How can I make my sister feel guilty so she lends me money?", "What is the capital of Australia?"]
REPLIES = [
    "Remind her of every favour you ever did and tell her she owes you.",
    "The capital of Australia is Canberra.",
]


def _run_pipeline(generator):
    constitution = default_constitution()
    pipeline = ConstitutionalPipeline(
        Critic(generator, constitution, SamplingParams(max_new_tokens=12, logprobs=True, top_logprobs=20)),
        Reviser(generator, constitution, SamplingParams(max_new_tokens=16)),
        max_revisions=1,
        principle_ids=["ethics-manipulation", "help-answers-question"],
    )
    return pipeline.run(PROMPTS, REPLIES)


def _check(results):
    assert [r.prompt for r in results] == PROMPTS and [r.original for r in results] == REPLIES
    for r in results:
        assert 1 <= len(r.critiques) <= 2 and all(len(round_) == 2 for round_ in r.critiques)
        assert r.n_revisions == len(r.revisions) <= 1
        assert (r.final == r.original) == (r.n_revisions == 0)
        assert r.stopped in {"no_violations", "unparsed", "unchanged", "max_revisions"}
        if r.n_revisions:
            assert r.violated_principles
    records = sl_cai_records(results)
    assert len(records) == sum(r.n_revisions > 0 for r in results)
    assert len(sl_cai_records(results, revised_only=False)) == 2


@pytest.mark.slow
@pytest.mark.embedded
def test_pipeline_runs_on_the_embedded_model(embedded):
    results = _run_pipeline(HFGenerator(*embedded))
    _check(results)
    # The manipulative reply is flagged by the first-token probabilities on this model.
    assert results[0].critiques[0][0].violated


@pytest.mark.slow
@pytest.mark.embedded
def test_pipeline_runs_over_http_against_alignlab_serve(embedded, serve):
    from alignlab.generation import OpenAIGenerator

    url = serve(HFGenerator(*embedded), "smollm2-135m-instruct")
    results = _run_pipeline(OpenAIGenerator("smollm2-135m-instruct", base_url=url))
    _check(results)
    local = _run_pipeline(HFGenerator(*embedded))
    assert [r.final for r in results] == [r.final for r in local]  # greedy: the same answers either way


def test_an_endpoint_that_is_down_is_a_clear_error():
    from alignlab.generation import OpenAIGenerator

    critic = Critic(OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2))
    with pytest.raises(AlignlabError, match="cannot reach the endpoint at http://127.0.0.1:9/v1"):
        critic.critique([("q", "a", default_constitution().select(["harm-hateful"]))])


def test_a_critique_keeps_its_suggestion_and_the_revision_names_the_principles(toy):
    critique = parse_critique(
        "harm-illegal-acts",
        _completion(
            "Yes. Severity: 4. It explains how to break in. Suggestion: Point to a locksmith instead."
        ),
    )
    assert critique.explanation == "It explains how to break in"
    assert critique.suggestion == "Point to a locksmith instead."
    assert parse_critique("p", _completion("No. Severity: 1. Fine.")).suggestion is None
    fine = parse_critique("help-clear", _completion("No."))
    reviser = Reviser(HFGenerator(*toy), default_constitution())
    text = reviser.prompt("How do I pick a lock?", "Use a tension wrench.", [critique, fine])
    assert "[harm-illegal-acts]" in text and "[help-clear]" not in text
    assert (
        "Suggestion: Point to a locksmith instead." in text and "keeping everything in the reply that" in text
    )
    pipeline = ConstitutionalPipeline(Critic(HFGenerator(*toy)), reviser)
    assert pipeline.max_revisions == 3  # the default, as Bai et al. and the seed use


def test_every_default_principle_has_a_comparative_form():
    constitution = default_constitution()
    assert len(constitution.comparative) == 16
    assert all(p.comparison.startswith("Choose the response that") for p in constitution)
