"""Each trainer on a tiny model: every trainable parameter changes and the loss falls on a repeated batch."""

import copy
import json
import math

import pytest
import torch

from alignlab.data.formats import CompletionExample, PreferenceExample, load_completions, load_preferences
from alignlab.errors import AlignlabError
from alignlab.losses import pairwise_loss
from alignlab.scoring import score_completions
from alignlab.training import TrainConfig
from alignlab.training.distill import train_distill
from alignlab.training.grpo import GRPOConfig, train_grpo
from alignlab.training.preference import KTOConfig, train_dpo, train_kto
from alignlab.training.reward_model import reward_model_from, score_with_reward_model, train_reward_model
from alignlab.training.sft import train_sft

PAIRS = [
    PreferenceExample("w1 w2", "w3 w4 w5", "w9 w9"),
    PreferenceExample("w6", "w7 w8", "w10 w11 w12"),
    PreferenceExample("w2 w2 w2", "w5", "w13 w14"),
    PreferenceExample("w20", "w21 w22 w23 w24", "w25"),
]
CONFIG = TrainConfig(steps=25, lr=5e-3, log_every=1, schedule="constant")


def share_of_w5(prompts, completions):
    """A programmatic reward for the RL trainers' tests: the share of the word w5 in a completion."""
    return [c.split().count("w5") / max(len(c.split()), 1) for c in completions]


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def assert_all_changed(model, before):
    unchanged = [n for n, p in model.named_parameters() if p.requires_grad and torch.equal(p, before[n])]
    assert unchanged == []


@pytest.mark.parametrize("loss", ["sigmoid", "robust", "ipo", "hinge", "dr_dpo"])
def test_dpo_family_learns_the_preferences(toy, loss):
    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    before = snapshot(model)
    objective = pairwise_loss(loss, beta=0.5, **({"label_smoothing": 0.1} if loss == "robust" else {}))
    history = train_dpo(model, tokenizer, PAIRS, objective, CONFIG, batch_size=4, chat=False)
    if loss in ("sigmoid", "robust", "dr_dpo"):
        assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)  # policy = reference at step 0
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["reward_accuracy"] == 1.0
    assert_all_changed(model, before)
    # the implicit reward now ranks every pair correctly: log-ratio of chosen above rejected
    after = score_completions(
        model,
        tokenizer,
        [p.prompt for p in PAIRS] * 2,
        [p.chosen for p in PAIRS] + [p.rejected for p in PAIRS],
        chat=False,
    )
    ref = score_completions(
        toy[0],
        tokenizer,
        [p.prompt for p in PAIRS] * 2,
        [p.chosen for p in PAIRS] + [p.rejected for p in PAIRS],
        chat=False,
    )
    ratios = [a.total - r.total for a, r in zip(after, ref, strict=True)]
    assert all(c > r for c, r in zip(ratios[:4], ratios[4:], strict=True))


def test_kto_learns_desirable_vs_undesirable(toy):
    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    before = snapshot(model)
    examples = [CompletionExample(p.prompt, p.chosen, True) for p in PAIRS] + [
        CompletionExample(p.prompt, p.rejected, False) for p in PAIRS
    ]
    history = train_kto(model, tokenizer, examples, KTOConfig(beta=0.5, batch_size=8), CONFIG, chat=False)
    assert history[0]["loss"] == pytest.approx(0.5, abs=1e-4)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert_all_changed(model, before)


def test_sft_fits_the_completions(toy):
    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    before = snapshot(model)
    examples = [CompletionExample(p.prompt, p.chosen) for p in PAIRS]
    history = train_sft(model, tokenizer, examples, CONFIG, batch_size=4, chat=False)
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert_all_changed(model, before)


def test_reward_model_learns_the_ranking(toy):
    reward_model = reward_model_from(toy[0])
    tokenizer = toy[1]
    before = snapshot(reward_model)
    history = train_reward_model(reward_model, tokenizer, PAIRS, CONFIG, batch_size=4, chat=False)
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=0.3)
    assert history[-1]["loss"] < 0.1 and history[-1]["accuracy"] == 1.0
    assert_all_changed(reward_model, before)
    scores = score_with_reward_model(
        reward_model,
        tokenizer,
        [p.prompt for p in PAIRS] * 2,
        [p.chosen for p in PAIRS] + [p.rejected for p in PAIRS],
        chat=False,
    )
    assert all(c > r for c, r in zip(scores[:4], scores[4:], strict=True))


def test_distillation_pulls_the_student_to_the_teacher(toy, toy_tokenizer_):
    from alignlab.models import TOY_MODELS, build_toy_model

    teacher, tokenizer = toy
    student = build_toy_model(TOY_MODELS["toy-llama-tiny"], toy_tokenizer_, seed=7)
    before = snapshot(student)
    examples = [CompletionExample(p.prompt, p.chosen) for p in PAIRS]
    history = train_distill(student, teacher, tokenizer, examples, CONFIG, batch_size=4, chat=False)
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert_all_changed(student, before)


def test_grpo_raises_a_programmatic_reward(toy):
    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    before = snapshot(model)
    grpo = GRPOConfig(group_size=8, prompts_per_step=4, max_new_tokens=6, beta=0.02)
    prompts = ["w1", "w2 w3", "w7", "w11 w12"]
    history = train_grpo(
        model,
        tokenizer,
        prompts,
        [share_of_w5],
        grpo,
        TrainConfig(steps=30, lr=1e-2, log_every=5, schedule="constant"),
        chat=False,
    )
    first, last = history[0]["reward"], history[-1]["reward"]
    assert last > first + 0.2, (first, last)
    assert history[-1]["kl"] > 0
    assert_all_changed(model, before)


def test_malformed_preference_files_name_file_row_and_field(tmp_path, toy):
    path = tmp_path / "prefs.jsonl"
    rows = [{"prompt": "w1", "chosen": "w2", "rejected": "w3"}, {"prompt": "w1", "chosen": "w2"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(AlignlabError, match=r"prefs.jsonl, row 2: missing field 'rejected'"):
        load_preferences(path)
    path.write_text(json.dumps({"prompt": "w1", "chosen": "  ", "rejected": "w3"}))
    with pytest.raises(AlignlabError, match=r"prefs.jsonl, row 1: field 'chosen' is empty"):
        load_preferences(path)
    path.write_text("{not json")
    with pytest.raises(AlignlabError, match=r"prefs.jsonl, row 1: not valid JSON"):
        load_preferences(path)
    with pytest.raises(AlignlabError, match=r"list, row 1: field 'label' must be true or false"):
        load_completions([{"prompt": "w1", "completion": "w2", "label": "yes"}], labelled=True)
    from alignlab.data.formats import check_lengths

    long = load_preferences([{"prompt": " ".join(["w1"] * 300), "chosen": "w2", "rejected": "w3"}])
    with pytest.raises(
        AlignlabError,
        match=r"prefs, row 1: prompt \+ chosen is \d+ tokens, longer than the model's limit of 256",
    ):
        check_lengths(long, toy[1], 256, "prefs")


def test_conversational_records_are_accepted():
    [example] = load_preferences(
        [
            {
                "prompt": [{"role": "user", "content": "w1"}],
                "chosen": [{"role": "assistant", "content": "w2"}],
                "rejected": "w3",
            }
        ]
    )
    assert example.prompt == [{"role": "user", "content": "w1"}] and example.chosen == "w2"


def test_ppo_raises_a_programmatic_reward_and_tracks_kl(toy):
    from alignlab.training.ppo import PPOConfig, train_ppo

    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    before = snapshot(model)
    ppo = PPOConfig(
        prompts_per_step=16, max_new_tokens=6, ppo_epochs=2, kl_coef=0.02, kl_target=1.0, kl_horizon=100
    )
    prompts = ["w1", "w2 w3", "w7", "w11 w12"] * 4
    history = train_ppo(
        model,
        tokenizer,
        prompts,
        [share_of_w5],
        ppo,
        TrainConfig(steps=40, lr=1e-2, log_every=4, schedule="constant"),
        chat=False,
    )
    first, last = history[0]["score"], history[-1]["score"]
    assert last > first + 0.2, (first, last)
    assert history[-1]["kl"] > 0 and history[-1]["kl_coef"] != 0.02  # the adaptive controller moved
    assert max(h["clip_fraction"] for h in history) > 0  # reused rollouts: the ratio left 1 and was clipped
    assert_all_changed(model, before)


def test_lora_dpo_trains_only_the_adapter_against_the_disabled_adapter(toy):
    from alignlab.models.lora import add_lora

    base = copy.deepcopy(toy[0])
    base_weights = {n: p.detach().clone() for n, p in base.named_parameters()}
    policy = add_lora(base, r=4, alpha=8)
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    before = snapshot(policy)
    history = train_dpo(
        policy,
        toy[1],
        PAIRS,
        pairwise_loss("sigmoid", beta=0.5),
        TrainConfig(steps=25, lr=2e-2, log_every=1, schedule="constant"),
        batch_size=4,
        chat=False,
    )
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)  # B = 0: adapted model = reference
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    lora_b = [n for n in trainable if "lora_B" in n]
    assert all(not torch.equal(p, before[n]) for n, p in policy.named_parameters() if n in lora_b)
    merged = policy.merge_and_unload()
    assert any(not torch.equal(p, base_weights[n]) for n, p in merged.named_parameters())


def test_qlora_on_the_cpu_is_a_clear_error():
    from alignlab.models.lora import load_qlora

    with pytest.raises(AlignlabError, match="QLoRA needs a CUDA GPU"):
        load_qlora("toy-llama-tiny", device="cpu")


def test_rollout_text_keeps_stray_special_tokens(toy):
    """A completion padded with special tokens must not look clean to a reward function."""
    from alignlab.training.rollout import sample_rollout

    model, tokenizer = toy
    torch.manual_seed(0)
    rollout = sample_rollout(
        model, tokenizer, ["w1", "w2"], samples_per_prompt=16, max_new_tokens=6, temperature=3.0, chat=False
    )
    for ids, comp, text in zip(rollout.input_ids, rollout.completion_mask, rollout.completions, strict=True):
        generated = [i for i in ids[comp.bool()].tolist() if i != tokenizer.eos_token_id]
        assert text.split() == tokenizer.convert_ids_to_tokens(generated)
    assert any("<" in text for text in rollout.completions), "at T=3 some special tokens should be sampled"


def test_grpo_with_rollouts_from_a_server_that_reloads_the_pushed_policy(toy, serve, tmp_path):
    """`alignlab serve --allow-reload` stands in for vLLM: rollouts come from the server, which loads the policy
    the trainer pushes before every rollout; the reward still rises, and the served weights are the policy's."""
    import httpx

    from alignlab.generation import HFGenerator
    from alignlab.training import RemoteRollouts

    model, tokenizer = copy.deepcopy(toy[0]), toy[1]
    served = copy.deepcopy(toy[0])
    with torch.no_grad():
        for p in served.parameters():
            p.add_(0.5)  # the server starts with other weights: only a push makes its samples the policy's
    url = serve(HFGenerator(served, tokenizer), "policy", allow_reload=True)
    remote = RemoteRollouts(url, "policy", tmp_path / "sync")

    prompts = ["w1", "w2 w3"]
    rollout = remote(
        model, tokenizer, prompts, samples_per_prompt=2, max_new_tokens=5, temperature=0, chat=False
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(served.state_dict().values(), model.state_dict().values(), strict=True)
    )
    local = model.generate(**tokenizer(prompts[1:], return_tensors="pt"), max_new_tokens=5, do_sample=False)
    assert rollout.input_ids[2:, -5:].tolist() == [local[0, -5:].tolist()] * 2  # the server's greedy tokens
    assert rollout.completion_mask.sum(1).tolist() == [5] * 4 and rollout.input_ids.shape[0] == 4
    assert rollout.completions[2] == tokenizer.decode(local[0, -5:])

    grpo = GRPOConfig(group_size=8, prompts_per_step=4, max_new_tokens=6, beta=0.02)
    history = train_grpo(
        model, tokenizer, ["w1", "w2 w3", "w7", "w11 w12"], [share_of_w5], grpo,
        TrainConfig(steps=30, lr=1e-2, log_every=5, schedule="constant"), chat=False, rollout_fn=remote,
    )  # fmt: skip
    assert history[-1]["reward"] > history[0]["reward"] + 0.2, history
    assert serve.apps[url].state.reloads == 31 and len(list((tmp_path / "sync").iterdir())) == 1
    refused = httpx.post(url.removesuffix("/v1") + "/reload_weights", json={"model_path": str(tmp_path)})
    assert refused.status_code == 400 and "no *.safetensors files" in refused.json()["error"]["message"]
    closed = RemoteRollouts(serve(HFGenerator(served, tokenizer), "policy"), "policy", tmp_path / "other")
    with pytest.raises(AlignlabError, match="reload_weights refused the policy \\(404\\)"):
        closed(model, tokenizer, prompts, max_new_tokens=2, chat=False)
