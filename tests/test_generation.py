import pytest

from alignlab.errors import AlignlabError
from alignlab.generation import HFGenerator, SamplingParams
from alignlab.scoring import score_completions

PROMPTS = ["w1 w2 w3", "w4", "w5 w6 w7 w8 w9 w10", "w11 w12"]
# The toy model is a plain language model of the Markov language: prompts are continued as raw text.


def test_batched_greedy_equals_one_at_a_time(toy):
    model, tokenizer = toy
    params = SamplingParams(max_new_tokens=8)
    batched = HFGenerator(model, tokenizer, batch_size=4, chat=False).generate(PROMPTS, params)
    single = HFGenerator(model, tokenizer, batch_size=1, chat=False).generate(PROMPTS, params)
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.text for c in batched)


def test_returned_logprobs_equal_scoring_the_same_tokens(toy):
    model, tokenizer = toy
    completions = HFGenerator(model, tokenizer, chat=False).generate(
        PROMPTS, SamplingParams(max_new_tokens=6, logprobs=True, top_logprobs=3)
    )
    scored = score_completions(model, tokenizer, PROMPTS, [c.text for c in completions], chat=False)
    for completion, score in zip(completions, scored, strict=True):
        assert completion.logprobs == pytest.approx(score.token_logprobs, abs=1e-4)
        # greedy: the chosen token is the most likely alternative
        for chosen, alternatives in zip(completion.logprobs, completion.top_logprobs, strict=True):
            assert len(alternatives) == 3 and chosen == pytest.approx(max(alternatives.values()), abs=1e-5)


def test_length_and_stop_strings(toy):
    model, tokenizer = toy
    generator = HFGenerator(model, tokenizer, chat=False)
    [full] = generator.generate(["w1"], SamplingParams(max_new_tokens=10))
    assert full.finish_reason == "length" and len(full.tokens) == 10
    stop_word = full.text.split()[3]
    [cut] = generator.generate(["w1"], SamplingParams(max_new_tokens=10, stop=(stop_word,), logprobs=True))
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index(stop_word)]
    assert stop_word not in cut.text and len(cut.tokens) == len(cut.logprobs) <= 4


def test_sampling_is_seeded(toy):
    model, tokenizer = toy
    generator = HFGenerator(model, tokenizer, chat=False)

    def sample(seed):
        return [
            c.text
            for c in generator.generate(
                PROMPTS, SamplingParams(max_new_tokens=12, temperature=1.5, seed=seed)
            )
        ]

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_prompt_too_long_for_generation_names_the_limit(toy):
    model, tokenizer = toy
    with pytest.raises(AlignlabError, match="prompt \\+ max_new_tokens .* limit of 256"):
        HFGenerator(model, tokenizer, chat=False).generate(
            [" ".join(["w1"] * 250)], SamplingParams(max_new_tokens=10)
        )


def test_bad_sampling_params_are_rejected():
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)
