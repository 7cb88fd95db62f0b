"""Malformed input, as a careless user would give it: every case is one clear error that names what is wrong
and where, and writes nothing. CLI cases go through the real entry point (`alignlab.cli.main`), server cases
over real loopback HTTP, model-folder cases through `load_model` on folders saved by transformers."""

import contextlib
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
import torch

from alignlab.cli import main
from alignlab.errors import AlignlabError


def cli(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    """Run `alignlab ARGS` in this process; return (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["alignlab", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def assert_one_error_line(code: int, err: str, message: str) -> None:
    assert code == 1, err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture
def config_files(tmp_path):
    not_utf8 = tmp_path / "latin1.yaml"
    not_utf8.write_bytes("model: caf\xe9\n".encode("latin-1"))
    huge = tmp_path / "huge.yaml"
    huge.write_text("steps: 10\n" + "# padding\n" * 200_000)
    (tmp_path / "list.yaml").write_text("- steps\n- 10\n")
    (tmp_path / "broken.yaml").write_text("steps: [10\n")
    (tmp_path / "a_folder.yaml").mkdir()
    return tmp_path


CLI_RUN_CASES = [
    (("run", "nope"), "unknown experiment 'nope'"),
    (("run", "tiny-pretrain", "--preset", "tpu"), "no preset 'tpu'"),
    (("run", "quickstart", "--set", "model=gpt-17"), "unknown model 'gpt-17'"),
    (("run", "tiny-pretrain", "--set", "steps"), "--set expects key=value"),
    (("run", "tiny-pretrain", "--set", "wat=1"), "wat: Extra inputs are not permitted"),
    (("run", "tiny-pretrain", "--set", "steps=0"), "steps"),
    (("run", "tiny-pretrain", "--set", "steps=1000000000000"), "steps"),
    (("run", "tiny-pretrain", "--set", "lr=-1"), "lr"),
    (("run", "tiny-pretrain", "--set", "lr=.nan"), "lr"),
    (("run", "tiny-pretrain", "--set", "lr=.inf"), "lr"),
    (("run", "tiny-pretrain", "--set", "batch_size=0"), "batch_size"),
    (("run", "tiny-pretrain", "--set", "steps=many"), "steps: Input should be a valid integer"),
    (("run", "tiny-pretrain", "--seed", "1", "--seeds", "0,1"), "give --seed or --seeds, not both"),
    (("run", "tiny-pretrain", "--seeds", "0,x"), "--seeds expects integers"),
    (("run", "tiny-pretrain", "--seeds", "0,0"), "seed"),
    (("run", "tiny-pretrain", "--seed", "-1"), "seed"),
    (("run", "tiny-pretrain", "--seed", str(2**32)), "seed"),
    (("run", "quickstart", "--seeds", "0,1"), "quickstart"),
    (("run", "tiny-pretrain", "--device", "tpu"), "--device 'tpu' is not a device"),
    (("run", "tiny-pretrain", "--config", "{tmp}/missing.yaml"), "missing.yaml: no such config file"),
    (("run", "tiny-pretrain", "--config", "{tmp}/a_folder.yaml"), "is a directory"),
    (("run", "tiny-pretrain", "--config", "{tmp}/latin1.yaml"), "not UTF-8 text"),
    (("run", "tiny-pretrain", "--config", "{tmp}/huge.yaml"), "larger than 1,000,000 for a config file"),
    (("run", "tiny-pretrain", "--config", "{tmp}/list.yaml"), "expected a mapping"),
    (("run", "tiny-pretrain", "--config", "{tmp}/broken.yaml"), "not valid YAML"),
]
if not torch.cuda.is_available():
    CLI_RUN_CASES.append((("run", "tiny-pretrain", "--device", "cuda"), "CUDA is not available"))


@pytest.mark.parametrize(
    ("args", "message"), CLI_RUN_CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_bad_run_arguments_are_one_line_and_write_nothing(capsys, monkeypatch, config_files, args, message):
    out = config_files / "runs"
    args = tuple(a.replace("{tmp}", str(config_files)) for a in args)
    code, err = cli(capsys, monkeypatch, *args, "--out", str(out), "--no-progress")
    assert_one_error_line(code, err, message)
    assert not out.exists()


def test_an_output_folder_under_a_file_is_one_line(capsys, monkeypatch, tmp_path):
    (tmp_path / "file").write_text("")
    code, err = cli(capsys, monkeypatch, "run", "tiny-pretrain", "--out", str(tmp_path / "file" / "runs"))
    assert_one_error_line(code, err, "cannot write to the output folder")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "toy-llama-tiny", "--port", "0"), "Invalid value for '--port'"),
        (("serve", "toy-llama-tiny", "--port", "70000"), "Invalid value for '--port'"),
        (("serve", "toy-llama-tiny", "--batch-size", "0"), "Invalid value for '--batch-size'"),
    ],
)
def test_serve_flags_out_of_range_are_usage_errors(capsys, monkeypatch, args, message):
    code, err = cli(capsys, monkeypatch, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_serve_on_a_taken_port_fails_before_loading(capsys, monkeypatch):
    with socket_listening() as port:
        code, err = cli(capsys, monkeypatch, "serve", "toy-llama-tiny", "--port", str(port))
    assert_one_error_line(code, err, f"cannot listen on 127.0.0.1:{port}")


@contextlib.contextmanager
def socket_listening():
    """A port on 127.0.0.1 that something is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        yield s.getsockname()[1]


# --- model folders ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_toy(tmp_path_factory):
    """A toy Llama saved as a real Hugging Face folder (config.json, model.safetensors, tokenizer)."""
    from alignlab.models import TOY_MODELS, build_toy_model, toy_tokenizer

    tokenizer = toy_tokenizer()
    folder = tmp_path_factory.mktemp("toy")
    build_toy_model(TOY_MODELS["toy-llama-tiny"], tokenizer, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _broken_copy(saved_toy, tmp_path, breakage: str):
    import shutil

    folder = tmp_path / breakage
    shutil.copytree(saved_toy, folder)
    weights = folder / "model.safetensors"
    if breakage == "config_not_json":
        (folder / "config.json").write_text("{not json")
    elif breakage == "unknown_architecture":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(config | {"model_type": "no_such_arch"}))
    elif breakage == "no_weights":
        weights.unlink()
    elif breakage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif breakage == "no_config":
        (folder / "config.json").unlink()
    elif breakage == "a_file":
        shutil.rmtree(folder)
        folder.write_text("weights?")
    return folder


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("config_not_json", "could not load the model"),
        ("unknown_architecture", "no_such_arch"),
        ("no_weights", "could not load the model"),
        ("truncated_weights", "could not load the model"),
        ("no_config", "has no config.json"),
        ("a_file", "is a file"),
    ],
)
def test_broken_model_folders_are_one_clear_error(saved_toy, tmp_path, breakage, message):
    from alignlab.models import load_model

    folder = _broken_copy(saved_toy, tmp_path, breakage)
    with pytest.raises(AlignlabError, match=message) as error:
        load_model(str(folder))
    assert str(folder) in str(error.value)


def test_serve_on_a_broken_folder_is_one_line(saved_toy, tmp_path, capsys, monkeypatch):
    folder = _broken_copy(saved_toy, tmp_path, "truncated_weights")
    code, err = cli(capsys, monkeypatch, "serve", str(folder), "--port", "1")
    if code == 1 and "cannot listen" in err:  # port 1 needs root; take any free port instead
        with socket_listening() as port:
            pass
        code, err = cli(capsys, monkeypatch, "serve", str(folder), "--port", str(port))
    assert_one_error_line(code, err, "could not load the model")


def test_the_saved_toy_itself_loads(saved_toy):
    from alignlab.models import load_model

    model, _ = load_model(str(saved_toy))
    assert model.config.model_type == "llama"


# --- data files ---------------------------------------------------------------------------------------------


def _jsonl(path, *rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


GOOD_PAIR = {"prompt": "Is 7 prime?", "chosen": "Yes.", "rejected": "No."}
DATA_CASES = {
    "not json": (["{oops"], "row 1: not valid JSON"),
    "not an object": (["[1, 2]"], "row 1: expected a JSON object"),
    "missing field": ([{"prompt": "p", "chosen": "c"}], "row 1: missing field 'rejected'"),
    "empty prompt": ([{**GOOD_PAIR, "prompt": "  "}], "row 1: field 'prompt' is empty"),
    "number as chosen": ([GOOD_PAIR, {**GOOD_PAIR, "chosen": 3}], "row 2: field 'chosen' must be text"),
    "unknown role": (
        [{**GOOD_PAIR, "prompt": [{"role": "wizard", "content": "hi"}]}],
        "row 1: field 'prompt', message 0: role 'wizard' is not one of system, user, assistant",
    ),
    "non-string content": (
        [{**GOOD_PAIR, "prompt": [{"role": "user", "content": ["hi"]}]}],
        "row 1: field 'prompt', message 0: content must be text, got list",
    ),
    "message without content": (
        [{**GOOD_PAIR, "prompt": [{"role": "user"}]}],
        "row 1: field 'prompt', message 0: expected {role, content}",
    ),
    "empty message list": ([{**GOOD_PAIR, "prompt": []}], "row 1: field 'prompt' is an empty list"),
    "two-message completion": (
        [{**GOOD_PAIR, "chosen": [{"role": "assistant", "content": "a"}] * 2}],
        "row 1: field 'chosen' must be text or a list with one assistant message",
    ),
    "user message as completion": (
        [{**GOOD_PAIR, "rejected": [{"role": "user", "content": "a"}]}],
        "row 1: field 'rejected' must be text or a list with one assistant message",
    ),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_malformed_preference_rows_name_file_row_and_field(tmp_path, case):
    from alignlab.data import load_preferences

    rows, message = DATA_CASES[case]
    path = _jsonl(tmp_path / "pairs.jsonl", *rows)
    with pytest.raises(AlignlabError, match="^" + str(path).replace("\\", "\\\\") + ", ") as error:
        load_preferences(path)
    assert message in str(error.value)


def test_unreadable_data_files_are_clear_errors(tmp_path):
    from alignlab.data import load_completions, load_preferences, load_stepwise

    (tmp_path / "latin1.jsonl").write_bytes('{"prompt": "caf\xe9"}\n'.encode("latin-1"))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    (tmp_path / "folder.jsonl").mkdir()
    cases = {
        "missing.jsonl": "no such JSONL file",
        "latin1.jsonl": "not UTF-8 text",
        "empty.jsonl": "no rows",
        "folder.jsonl": "is a directory",
    }
    for name, message in cases.items():
        for loader in (load_preferences, load_completions, load_stepwise):
            with pytest.raises(AlignlabError, match=message):
                loader(tmp_path / name)
    with pytest.raises(AlignlabError, match="list, row 2: expected a dict, got str"):
        load_preferences([GOOD_PAIR, "oops"])
    for loader in (load_preferences, load_completions, load_stepwise):
        assert loader(tmp_path / "empty.jsonl", allow_empty=True) == []


def test_a_byte_order_mark_is_fine(tmp_path):
    from alignlab.data import load_preferences

    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_PAIR).encode() + b"\n")
    assert load_preferences(path)[0].prompt == "Is 7 prime?"


def test_malformed_labelled_and_stepwise_rows(tmp_path):
    from alignlab.data import load_completions, load_stepwise

    labelled = _jsonl(tmp_path / "kto.jsonl", {"prompt": "p", "completion": "c", "label": "yes"})
    with pytest.raises(AlignlabError, match="row 1: field 'label' must be true or false"):
        load_completions(labelled, labelled=True)
    steps = _jsonl(tmp_path / "prm.jsonl", {"prompt": "p", "completions": ["a", "b"], "labels": [True]})
    with pytest.raises(AlignlabError, match=r"row 1: 2 completions \(steps\) but 1 labels"):
        load_stepwise(steps)
    steps = _jsonl(tmp_path / "prm2.jsonl", {"prompt": "p", "completions": ["a", ""], "labels": [True, True]})
    with pytest.raises(AlignlabError, match="row 1: field 'completions' must be a non-empty list"):
        load_stepwise(steps)


def test_malformed_constitutions_name_the_file(tmp_path):
    from alignlab.oversight import load_constitution

    (tmp_path / "bad.yaml").write_text("principles: [\n")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(AlignlabError, match="bad.yaml: not valid YAML"):
        load_constitution(tmp_path / "bad.yaml")
    with pytest.raises(AlignlabError, match="latin1.yaml: not UTF-8 text"):
        load_constitution(tmp_path / "latin1.yaml")
    with pytest.raises(AlignlabError, match="no such constitution file"):
        load_constitution(tmp_path / "missing.yaml")


# --- configs and tensors given to the library ---------------------------------------------------------------


def test_configs_refuse_values_that_would_train_silently():
    from pydantic import ValidationError

    from alignlab.generation import SamplingParams
    from alignlab.interp.sae import sae_config
    from alignlab.models import ToyModelConfig
    from alignlab.training import GRPOConfig, TrainConfig

    bad = [
        (lambda: TrainConfig(lr=math.nan), "lr"),
        (lambda: TrainConfig(lr=-1.0), "lr"),
        (lambda: TrainConfig(steps=0), "steps"),
        (lambda: TrainConfig(steps=10**12), "steps"),
        (lambda: TrainConfig(schedule="cosine_restarts"), "schedule"),
        (lambda: TrainConfig(stepz=3), "stepz"),
        (lambda: GRPOConfig(group_size=1), "group_size"),
        (lambda: ToyModelConfig(d_model=0), "d_model"),
        (lambda: ToyModelConfig(n_heads=0), "n_heads"),
        (lambda: SamplingParams(temperature=-1.0), "temperature"),
        (lambda: SamplingParams(top_p=1.5), "top_p"),
        (lambda: sae_config("topk", d_in=8, expansion=4, k=99), "k"),
        (lambda: sae_config("gated", d_in=8), "unknown SAE architecture 'gated'"),
    ]
    for make, field in bad:
        with pytest.raises((ValidationError, ValueError, AlignlabError), match=field):
            make()


def test_an_unknown_loss_name_lists_the_known_ones():
    from alignlab.losses import pairwise_loss

    with pytest.raises(ValueError, match="unknown pairwise loss 'simpo'; losses: sigmoid, robust, ipo"):
        pairwise_loss("simpo")
    with pytest.raises(ValueError, match="sigmoid takes beta"):
        pairwise_loss("sigmoid", gamma=1.0)
    with pytest.raises(ValueError, match="sigmoid: beta must be a finite positive number"):
        pairwise_loss("sigmoid", beta=-0.1)


def test_losses_refuse_per_token_log_probs():
    from alignlab.losses import bradley_terry, dpo_loss, group_advantages

    per_token = torch.zeros(4, 7)
    with pytest.raises(ValueError, match=r"must have 1 dimension, got shape \(4, 7\); "):
        dpo_loss(per_token, per_token, per_token, per_token, beta=0.1)
    with pytest.raises(ValueError, match="shapes must match|batch sizes disagree"):
        bradley_terry(torch.zeros(4), torch.zeros(3))
    with pytest.raises(ValueError, match="6 rewards do not split into groups of 4"):
        group_advantages(torch.zeros(6), group_size=4)


def test_a_reward_model_must_be_a_reward_model(toy):
    from alignlab.training.reward_model import rewards

    model, tokenizer = toy
    batch = tokenizer(["w1 w2", "w3"], return_tensors="pt", padding=True)
    with pytest.raises(ValueError, match=r"returns logits of shape \(2, \d+, \d+\).*reward_model_from"):
        rewards(model, dict(batch))


def test_a_reward_function_with_the_wrong_count_is_refused():
    from alignlab.training.rollout import Rollout, total_reward

    rollout = Rollout(
        prompts=["a", "b"],
        completions=["x", "y"],
        input_ids=torch.zeros(2, 3, dtype=torch.long),
        attention_mask=torch.ones(2, 3, dtype=torch.long),
        completion_mask=torch.ones(2, 3, dtype=torch.long),
    )
    with pytest.raises(ValueError, match="returned 1 scores for 2 completions"):
        total_reward([lambda prompts, completions: [1.0]], rollout)


# --- the server ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(toy, serve):
    from alignlab.generation import HFGenerator

    model, tokenizer = toy
    return serve(HFGenerator(model, tokenizer), "toy-llama-tiny")


USER = [{"role": "user", "content": "w1"}]
SERVER_CASES = {
    "not json": ("{oops", "JSON"),
    "no messages": ({"model": "toy-llama-tiny"}, "messages"),
    "empty messages": ({"model": "toy-llama-tiny", "messages": []}, "messages"),
    "unknown role": ({"model": "toy-llama-tiny", "messages": [{"role": "wizard", "content": "w1"}]}, "role"),
    "content a number": (
        {"model": "toy-llama-tiny", "messages": [{"role": "user", "content": 3}]},
        "content",
    ),
    "negative max_tokens": ({"model": "toy-llama-tiny", "messages": USER, "max_tokens": -1}, "max_tokens"),
    "top_logprobs 50": ({"model": "toy-llama-tiny", "messages": USER, "top_logprobs": 50}, "top_logprobs"),
    "n 0": ({"model": "toy-llama-tiny", "messages": USER, "n": 0}, "n"),
    "top_p 0": ({"model": "toy-llama-tiny", "messages": USER, "top_p": 0}, "top_p"),
}


@pytest.mark.parametrize("case", SERVER_CASES)
def test_malformed_requests_get_a_400_naming_the_field(server_url, case):
    body, field = SERVER_CASES[case]
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(
        f"{server_url}/chat/completions", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and field in error["message"], error


# --- the run index -----------------------------------------------------------------------------------------------


def test_a_corrupt_index_is_one_line_and_can_be_rebuilt(capsys, monkeypatch, tmp_path):
    from alignlab.experiments import run_experiment

    run_experiment(
        "tiny-pretrain",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(steps=10, warmup_steps=0, eval_every=10, eval_sequences=16),
    )
    (tmp_path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    code, err = cli(capsys, monkeypatch, "runs", "--out", str(tmp_path))
    assert_one_error_line(code, err, "the run index is unreadable")
    assert "--rebuild" in err
    code, _ = cli(capsys, monkeypatch, "runs", "--out", str(tmp_path), "--rebuild")
    assert code in (0, None)
    from alignlab.reporting import RunIndex

    [record] = RunIndex(tmp_path).list()
    assert record.name.startswith("tiny-pretrain-") and record.status == "finished"


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_listed_as_interrupted(tmp_path):
    from alignlab.reporting import RunIndex

    process = subprocess.Popen(
        [sys.executable, "-m", "alignlab.cli", "run", "tiny-pretrain", "--out", str(tmp_path), "--no-progress",
         "--set", "steps=100000", "--set", "eval_every=100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while not (tmp_path / "index.sqlite").exists() or not _statuses(tmp_path):
            assert time.time() < deadline and process.poll() is None, "the run did not start"
            time.sleep(0.2)
        assert _statuses(tmp_path) == ["running"]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    [record] = RunIndex(tmp_path).list()
    assert record.status == "interrupted"


def _statuses(root) -> list[str]:
    try:
        with sqlite3.connect(root / "index.sqlite") as db:
            return [row[0] for row in db.execute("SELECT status FROM runs")]
    except sqlite3.Error:
        return []
