import math

import pytest
import torch

from alignlab.errors import AlignlabError
from alignlab.scoring import collate_prompt_completion, format_prompt, pad, score_completions, token_logprobs


def test_token_logprobs_by_hand():
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]]])  # (1, 3, 2)
    ids = torch.tensor([[1, 0, 1]])
    # position 0 predicts token 0 (uniform): ln 1/2; position 1 predicts token 1 from logits (2, 0)
    expected = torch.tensor([[math.log(0.5), -math.log(1 + math.exp(2))]])
    assert torch.allclose(token_logprobs(logits, ids), expected)


def test_pad_left_and_right():
    ids, mask = pad([[1, 2, 3], [4]], pad_id=0, side="left")
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    ids, mask = pad([[1, 2, 3], [4]], pad_id=0, side="right")
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_chat_template_is_applied_and_plain_text_kept(toy_tokenizer_):
    assert format_prompt(toy_tokenizer_, "w1 w2") == "<user> w1 w2 <eos> <assistant> "
    assert format_prompt(toy_tokenizer_, "w1 w2", chat=False) == "w1 w2"
    messages = [{"role": "system", "content": "w3"}, {"role": "user", "content": "w1"}]
    assert format_prompt(toy_tokenizer_, messages) == "<system> w3 <eos> <user> w1 <eos> <assistant> "


def test_completion_mask_marks_exactly_the_completion(toy_tokenizer_):
    batch = collate_prompt_completion(toy_tokenizer_, ["w1", "w1 w2 w3"], ["w4 w5", "w6"], chat=False)
    assert batch.completion_mask.tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


def test_batched_scores_equal_one_at_a_time(toy):
    model, tokenizer = toy
    prompts = ["w1", "w2 w3 w4 w5 w6", "w7 w8", "w9 w10 w11"]
    completions = ["w3 w4 w5 w6", "w1", "w2 w2", "w12 w13 w14 w15 w16 w17"]
    batched = score_completions(model, tokenizer, prompts, completions, batch_size=4)
    single = [
        score_completions(model, tokenizer, [p], [c], batch_size=1)[0]
        for p, c in zip(prompts, completions, strict=True)
    ]
    for b, s, c in zip(batched, single, completions, strict=True):
        assert len(b.token_logprobs) == len(c.split())
        assert b.total == pytest.approx(s.total, abs=1e-4)


def test_score_equals_manual_forward(toy):
    model, tokenizer = toy
    [scored] = score_completions(model, tokenizer, ["w1 w2"], ["w3 w4"], chat=False)
    ids = torch.tensor([tokenizer("w1 w2 w3 w4")["input_ids"]])
    logp = model(ids).logits.log_softmax(-1)[0]
    manual = logp[1, ids[0, 2]] + logp[2, ids[0, 3]]
    assert scored.total == pytest.approx(manual.item(), abs=1e-5)
    assert scored.mean == pytest.approx(manual.item() / 2, abs=1e-5)


def test_too_long_input_names_the_models_limit(toy):
    model, tokenizer = toy
    limit = model.config.max_position_embeddings
    with pytest.raises(AlignlabError, match=f"row 0: .* longer than the model's limit of {limit}"):
        score_completions(model, tokenizer, [" ".join(["w1"] * limit)], ["w2"])
