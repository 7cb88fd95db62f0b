import copy
import math

import pytest

from alignlab.errors import AlignlabError
from alignlab.generation import HFGenerator, OpenAIGenerator, SamplingParams
from alignlab.oversight.debate import (
    Argument,
    DebateArena,
    DebateQuestion,
    Debater,
    DebateResult,
    Judgement,
    LLMJudge,
    QuoteJudge,
    debate_statistics,
    extract_quotes,
    render_transcript,
    verify_quote,
)

STORY = "Mira kept bees on the roof of the old library. She sold the honey at the harbour market."
QUESTION = DebateQuestion(
    "Where did Mira sell her honey?", ("in the town square", "at the harbour market"), 1, STORY
)


def _argument(role, answer, quote, round_=1):
    content = f'The answer is "{QUESTION.options[answer]}". <quote>{quote}</quote>'
    quotes = extract_quotes(content)
    return Argument(role, answer, content, round_, quotes, tuple(verify_quote(q, STORY) for q in quotes))


def test_quotes_are_verified_word_for_word_ignoring_case_and_punctuation():
    assert verify_quote("she sold the honey, at the harbour market", STORY)
    assert not verify_quote("She sold the honey in the town square.", STORY)
    assert not verify_quote("", STORY) and not verify_quote("bees", None)
    assert extract_quotes("a <quote>one</quote> b <QUOTE> two </QUOTE>") == ("one", "two")


def test_the_judge_sees_verified_and_unverified_quotes_with_its_own_numbering():
    honest = _argument("proposer", 1, "She sold the honey at the harbour market.")
    liar = _argument("opponent", 0, "She sold the honey in the town square.")
    shown = render_transcript([honest, liar], numbering=(2, 1))
    assert 'Proposer (for answer 1), round 1: The answer is "at the harbour market". "She sold' in shown
    assert 'market." (verified)' in shown and 'square." (unverified)' in shown


def test_quote_judge_baseline_and_statistics_on_hand_built_debates():
    won = DebateResult(
        QUESTION, "debate", {"proposer": 1, "opponent": 0}, {"proposer": True, "opponent": False}
    )
    won.transcript = [
        _argument("proposer", 1, "She sold the honey at the harbour market."),
        _argument("opponent", 0, "She sold the honey in the town square."),
    ]
    tie = DebateResult(
        QUESTION, "debate", {"proposer": 0, "opponent": 1}, {"proposer": False, "opponent": True}
    )
    tie.transcript = [_argument("proposer", 0, "made up"), _argument("opponent", 1, "also made up")]
    agreed = DebateResult(
        QUESTION, "debate", {"proposer": 1, "opponent": 1}, {"proposer": True, "opponent": True}
    )
    DebateArena(QuoteJudge()).judge_results([won, tie])
    assert won.winner == "proposer" and won.winning_answer == "at the harbour market" and won.correct
    assert won.p_first_option == 0.0 and won.judge_confidence == 1.0
    assert tie.winner is None and tie.p_first_option == 0.5 and tie.correct is None
    assert agreed.winning_index == 1 and agreed.rounds == 0 and agreed.judge_confidence is None
    stats = debate_statistics([won, tie, agreed])
    assert stats["decided"] == 2 and stats["agreed"] == 1 and stats["accuracy"] == 1.0
    assert stats["verified_quote_rate_honest"] == 0.5 and stats["verified_quote_rate_dishonest"] == 0.0


def test_a_judge_that_cannot_answer_is_a_counted_failure(toy):
    results = DebateArena(LLMJudge(HFGenerator(*toy))).naive([QUESTION])
    assert results[0].failed and results[0].winner is None and "no choice token" in results[0].rationale
    assert debate_statistics(results)["failed"] == 1


def test_honest_and_deceptive_debaters_need_known_answers():
    with pytest.raises(ValueError, match="known correct option"):
        Debater(None, honest=True).stances([DebateQuestion("q", ("a", "b"))], [None])


@pytest.mark.slow
@pytest.mark.embedded
def test_debate_on_the_embedded_model_locally_and_over_http(embedded, serve):
    questions = [QUESTION, DebateQuestion("Who kept bees?", ("Mira", "the librarian"), 0, STORY)]
    params = SamplingParams(max_new_tokens=16, stop=("\n",))
    local = HFGenerator(*embedded)
    results = DebateArena(LLMJudge(local), rounds=2).debate(
        questions, Debater(local, True, params), Debater(local, False, params)
    )
    for r in results:
        assert r.rounds == 2 and [a.role for a in r.transcript] == ["proposer", "opponent"] * 2
        assert r.honest == {"proposer": True, "opponent": False}
        assert [a.answer for a in r.transcript] == [r.question.correct, 1 - r.question.correct] * 2
        assert not r.failed and 0 <= r.p_first_option <= 1
    url = serve(local, "smollm2-135m-instruct")
    remote = OpenAIGenerator("smollm2-135m-instruct", base_url=url)
    over_http = DebateArena(LLMJudge(remote), rounds=2).debate(
        questions, Debater(remote, True, params), Debater(remote, False, params)
    )
    assert [a.content for r in over_http for a in r.transcript] == [
        a.content for r in results for a in r.transcript
    ]
    assert [r.p_first_option for r in over_http] == pytest.approx(
        [r.p_first_option for r in results], abs=1e-4
    )
    # two debaters that defend what the same model believes open with the same answer: no debate, no judge
    agreed = DebateArena(LLMJudge(local)).debate(questions, Debater(local), Debater(local))
    assert all(r.transcript == [] and r.winner == "proposer" for r in agreed)
    assert debate_statistics(agreed)["agreed"] == 2


def test_greedy_debaters_reveal_k_nonzero_pixels_and_the_honest_one_wins_more_than_chance():
    import numpy as np
    from sklearn.datasets import load_digits

    from alignlab.oversight.pixel_debate import SparsePixelJudge, greedy_debate

    digits = load_digits()
    images, labels = digits.data[:1000] / 16, digits.target[:1000]
    judge = SparsePixelJudge(k=4, hidden=64, masks_per_image=5).fit(images[:800], labels[:800])
    test, truth = images[800:900], labels[800:900]
    lies = (truth + 1) % 10
    result = greedy_debate(judge, test, truth, lies)
    assert (result.masks.sum(axis=1) == 4).all() and not (result.masks & (test == 0)).any()
    assert result.honest_wins.mean() > 0.6
    # swapping the roles (the "liar" defends the truth) mirrors the outcome's meaning
    swapped = greedy_debate(judge, test, lies, truth, honest_first=False)
    assert np.array_equal(swapped.masks, result.masks) and (swapped.honest_wins != result.honest_wins).all()


def test_best_of_n_agents_with_every_candidate_play_as_the_greedy_ones_and_random_ones_do_not():
    import numpy as np
    from sklearn.datasets import load_digits

    from alignlab.oversight.pixel_debate import (
        SparsePixelJudge,
        best_of_n_consultancy,
        best_of_n_debate,
        greedy_debate,
    )

    digits = load_digits()
    images, labels = digits.data[:1000] / 16, digits.target[:1000]
    judge = SparsePixelJudge(k=4, hidden=64, masks_per_image=5).fit(images[:800], labels[:800])
    test, truth = images[800:900], labels[800:900]
    lies = (truth + 3) % 10
    rng = np.random.default_rng(0)
    exhaustive = best_of_n_debate(judge, test, truth, lies, 64, rng)  # 64 >= every digit's nonzero pixels
    greedy = greedy_debate(judge, test, truth, lies)
    assert np.array_equal(exhaustive.masks, greedy.masks)
    random = best_of_n_debate(judge, test, truth, lies, 1, rng)
    assert (random.masks.sum(1) == 4).all() and not (random.masks & (test == 0)).any()
    assert not np.array_equal(random.masks, greedy.masks)
    # a consultant that argues the truth everywhere helps the judge; one that lies everywhere misleads it
    honest = best_of_n_consultancy(judge, test, truth, lies, np.ones(100, bool), 64, rng)
    lying = best_of_n_consultancy(judge, test, truth, lies, np.zeros(100, bool), 64, rng)
    assert honest.honest_wins.mean() > random.honest_wins.mean() > lying.honest_wins.mean()


def test_oversight_roles_are_protocols_that_the_built_in_roles_fill(toy):
    from alignlab.generation import HFGenerator
    from alignlab.oversight import (
        Critic,
        CritiqueRole,
        DebateJudge,
        PairwiseJudge,
        PreferenceLabeler,
        Reviser,
        RevisionRole,
        ViolationCountLabeler,
    )
    from alignlab.oversight.debate import LLMJudge, QuoteJudge

    generator = HFGenerator(*toy)
    critic = Critic(generator)
    assert isinstance(critic, CritiqueRole) and isinstance(Reviser(generator), RevisionRole)
    assert isinstance(PairwiseJudge(generator), PreferenceLabeler)
    assert isinstance(ViolationCountLabeler(critic), PreferenceLabeler)
    assert isinstance(LLMJudge(generator), DebateJudge) and isinstance(QuoteJudge(), DebateJudge)
    assert not isinstance(generator, PreferenceLabeler)  # a role is a method, not any object


class ShareOfWordJudge:
    """A programmatic judge for the self-play test: favours the side whose argument uses the word w5 more."""

    def judge(self, cases):
        def share(text):
            return text.split().count("w5") / max(len(text.split()), 1)

        return [
            Judgement(1 / (1 + math.exp(-8 * (share(t[0].content) - share(t[1].content)))), "w5 share")
            for _, t in cases
        ]


def test_self_play_debaters_grow_more_persuasive_to_their_judge_in_a_zero_sum_game(toy):
    from alignlab.oversight import SelfPlayDebateReward, argue_prompt, train_debater
    from alignlab.training import TrainConfig
    from alignlab.training.grpo import GRPOConfig

    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    questions = [
        DebateQuestion("w3 w4", ("w1", "w2"), correct=0),
        DebateQuestion("w7", ("w8", "w9"), correct=1),
    ]
    grpo = GRPOConfig(group_size=8, prompts_per_step=4, max_new_tokens=6, beta=0.02)
    log, episodes = train_debater(
        model, tokenizer, questions, ShareOfWordJudge(), grpo,
        TrainConfig(steps=30, lr=1e-2, log_every=5, schedule="constant"), chat=False,
    )  # fmt: skip
    assert len(episodes) == 30 * 2 * 8  # each step: 2 questions, 8 pairs of arguments each
    assert all(abs(entry["reward"] - 0.5) < 1e-6 for entry in log)  # zero-sum: the mean never moves

    def w5_share(chunk):
        words = [w for e in chunk for a in e.arguments for w in a.split()]
        return words.count("w5") / len(words)

    first, last = (
        w5_share([e for e in episodes if e.step < 5]),
        w5_share([e for e in episodes if e.step >= 25]),
    )
    assert last > first + 0.2, (first, last)
    with pytest.raises(AlignlabError, match="prompts_per_step must be even"):
        train_debater(model, tokenizer, questions, ShareOfWordJudge(), GRPOConfig(prompts_per_step=3),
                      TrainConfig(steps=1))  # fmt: skip
    reward = SelfPlayDebateReward(ShareOfWordJudge(), questions)
    with pytest.raises(AlignlabError, match="1 arguments for option 0 and 0 for option 1"):
        reward([argue_prompt(questions[0], 0)], ["w5"])
    with pytest.raises(AlignlabError, match="0 arguments for option 0 and 1 for option 1"):
        reward([argue_prompt(questions[1], 1)], ["w5"])
    with pytest.raises(AlignlabError, match="was not made by argue_prompt"):
        reward(["w1 w2"], ["w5"])


class SidesWithTheFirstArgument:
    """A judge persuaded by whichever argument it reads first; ``None`` for every case when ``silent``."""

    def __init__(self, silent: bool = False) -> None:
        self.silent, self.seen = silent, []

    def judge(self, cases):
        self.seen += cases
        return [
            Judgement(None if self.silent else float(t[0].answer == 0), "first argument") for _, t in cases
        ]


def test_judge_outcomes_puts_each_protocol_before_the_judge(toy):
    from alignlab.oversight import judge_outcomes

    questions = [DebateQuestion("w3 w4", ("w1", "w2"), correct=c) for c in (0, 1, 1, 0)]
    argues_truth = [True, True, False, False]
    judge = SidesWithTheFirstArgument()
    outcomes = judge_outcomes(toy[0], toy[1], judge, questions, argues_truth, max_new_tokens=3)
    assert outcomes.debate_honest_first == [1, 1, 1, 1]  # the honest argument is read first
    assert outcomes.debate_honest_second == [0, 0, 0, 0]
    assert outcomes.consultancy == [1, 1, 0, 0]  # the lone consultant persuades, for the truth or not
    debates = [t for _, t in judge.seen if len(t) == 2]
    assert len(debates) == 8 and all(t[0].answer != t[1].answer for t in debates)
    silent = judge_outcomes(toy[0], toy[1], SidesWithTheFirstArgument(silent=True), questions, argues_truth,
                            max_new_tokens=3)  # fmt: skip
    assert silent.debate_honest_first == silent.consultancy == [0, 0, 0, 0]  # no answer counts as wrong
    with pytest.raises(AlignlabError, match="argues_truth has 1 entries for 4 questions"):
        judge_outcomes(toy[0], toy[1], judge, questions, [True])


@pytest.mark.slow
@pytest.mark.embedded
def test_the_llm_self_play_example_trains_a_debater_against_the_embedded_judge(embedded):
    """examples/llm_debate_self_play.py end to end on the embedded model, one step: every training debate is
    judged, and both protocols are scored on the held-out stories before and after."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "examples" / "llm_debate_self_play.py"
    spec = importlib.util.spec_from_file_location("llm_debate_self_play", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(n_questions=4, steps=1, argument_tokens=8)
    assert result["episodes"] == 2 * 4  # 2 questions x 4 pairs of arguments
    assert result["decided"] == result["episodes"]  # the embedded judge always answers 1 or 2
    for when in ("before", "after"):
        assert set(result[when]) == {"debate", "consultancy"}
        assert all(0 <= v <= 1 for v in result[when].values())
