"""alignlab.evals: samples, solvers, scorers, metrics, the runner and its Inspect log, on real toy models."""

import json
import math
import re
import zipfile

import pytest
import torch

from alignlab.errors import AlignlabError
from alignlab.evals import (
    Choice,
    Generate,
    Includes,
    Match,
    ModelGraded,
    MultipleChoice,
    RefusalMatch,
    Roles,
    Sample,
    Task,
    TaskState,
    eval_task,
    get_task,
    load_samples,
    value_to_float,
)
from alignlab.evals.metrics import bootstrap_ci, compute_metrics, stderr
from alignlab.generation import HFGenerator
from alignlab.generation.base import Completion

LETTERS = ["A", "B", "C", "D"]


@pytest.fixture(scope="module")
def letter_model():
    """A toy Llama whose vocabulary holds the option letters and some words."""
    from alignlab.models import TOY_MODELS, build_toy_model, word_tokenizer

    tokenizer = word_tokenizer([*LETTERS, "what", "is", "one", "two", "three", "?", ")", "Answer", ":"])
    return build_toy_model(TOY_MODELS["toy-llama-tiny"], tokenizer, seed=1).eval(), tokenizer


# --- samples -------------------------------------------------------------------------------------------


def test_samples_load_from_jsonl_csv_and_dicts(tmp_path):
    rows = [
        {"id": "q1", "input": "what is one", "choices": ["one", "two"], "target": "A", "metadata": {"k": 1}},
        {"input": [{"role": "user", "content": "hi"}], "target": ["hello", "hi"]},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_file = load_samples(path)
    assert from_file[0] == Sample("what is one", "A", "q1", ("one", "two"), {"k": 1})
    assert from_file[1].id == 2 and from_file[1].targets == ("hello", "hi")
    csv_path = tmp_path / "s.csv"
    csv_path.write_text('id,input,choices,target\nq1,what is one,"[""one"", ""two""]",B\n')
    assert load_samples(csv_path)[0].choices == ("one", "two")
    assert load_samples(rows) == from_file


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"target": "x"}, "missing field 'input'"),
        ({"input": "  "}, "field 'input' is empty"),
        ({"input": [{"role": "robot", "content": "x"}]}, "field 'input', message 1: unknown role 'robot'"),
        ({"input": [{"role": "user", "content": 3}]}, "field 'input', message 1: 'content' must be a string"),
        ({"input": "q", "choices": ["only one"]}, "field 'choices' must be a list of at least two"),
        (
            {"input": "q", "choices": ["a", "b"], "target": "C"},
            "field 'target' must be one of the choice letters A, B",
        ),
        ({"input": "q", "target": {"x": 1}}, "field 'target' must be a string or a list of strings"),
        ({"input": "q", "id": 1.5}, "field 'id' must be a string or an integer"),
        ({"input": "q", "metadata": [1]}, "field 'metadata' must be an object"),
    ],
)
def test_bad_sample_rows_name_the_row_and_field(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"input": "fine"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(AlignlabError, match=re.escape(f"bad.jsonl, row 2: {message}")):
        load_samples(path)


def test_repeated_ids_and_empty_files_are_errors(tmp_path):
    with pytest.raises(AlignlabError, match="row 2: id 'a' repeats"):
        load_samples([{"id": "a", "input": "x"}, {"id": "a", "input": "y"}])
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(AlignlabError, match="no samples"):
        load_samples(tmp_path / "empty.jsonl")


# --- tasks ----------------------------------------------------------------------------------------------


def test_get_task_refuses_unknown_names_and_arguments():
    with pytest.raises(AlignlabError, match="unknown task 'nope': use one of .*capability-mcq"):
        get_task("nope")
    with pytest.raises(
        AlignlabError, match="task 'over-refusal' has no argument 'sytem_prompt' .*system_prompt"
    ):
        get_task("over-refusal", sytem_prompt=True)
    with pytest.raises(AlignlabError, match="argument few_shot: Input should be less than or equal to 3"):
        get_task("capability-mcq", few_shot=9)
    with pytest.raises(AlignlabError, match="argument subset: Input should be 'all', 'safe' or 'unsafe'"):
        get_task("over-refusal", subset="bad")
    built = get_task("over-refusal", subset="safe")
    assert built.args == {"subset": "safe", "system_prompt": False, "max_tokens": 48, "refusal_probability": True,
                          "judge": False}  # fmt: skip
    assert len(built.dataset) == 50 and len({s.metadata["type"] for s in built.dataset}) == 10


# --- metrics and scorers --------------------------------------------------------------------------------


def test_values_and_metrics():
    assert [value_to_float(v) for v in ("C", "P", "I", True, "no", 0.25, "3")] == [1, 0.5, 0, 1, 0, 0.25, 3]
    with pytest.raises(AlignlabError, match="no numeric meaning"):
        value_to_float("maybe")
    assert stderr([0, 1, 0, 1]) == pytest.approx(0.57735 / 2, rel=1e-4)
    low, high = bootstrap_ci([0.0] * 50 + [1.0] * 50)
    assert low < 0.5 < high and high - low < 0.3
    assert math.isnan(compute_metrics(["accuracy"], [])["accuracy"])
    with pytest.raises(AlignlabError, match="unknown metric 'f1'"):
        compute_metrics(["f1"], [1.0])


def _answered(text: str, target="Paris") -> TaskState:
    state = TaskState.start(Sample("q", target), 1)
    state.output = Completion(text, "stop")
    return state


def test_text_scorers(toy):
    roles = Roles(HFGenerator(*toy))
    states = [_answered("Paris, of course."), _answered("It is Paris"), _answered("Lyon"), _answered("")]
    assert [s.value for s in Match()(states, roles)] == ["C", "I", "I", "I"]
    assert [s.value for s in Match("end")(states, roles)] == ["I", "C", "I", "I"]
    assert [s.value for s in Includes()(states, roles)] == ["C", "C", "I", "I"]
    refusals = [
        _answered(t)
        for t in ("I'm sorry, I can't.", "I can\u2019t help with that", "Sure! Here", "No, never")
    ]
    assert [s.value for s in RefusalMatch()(refusals, roles)] == [1.0, 1.0, 0.0, 1.0]


def test_an_unparsed_judge_is_a_counted_failure_never_a_score(toy, tmp_path):
    """The grader is a real (tiny, untrained) model: its replies hold no grade, so every score fails, is
    counted, and stays out of the metrics."""
    generator = HFGenerator(*toy)
    task = Task("graded", [Sample(f"question {i}", "answer", i) for i in range(4)], [Generate(max_tokens=4)],
                [ModelGraded(max_tokens=4)])  # fmt: skip
    run = eval_task(task, Roles(generator, grader=generator), model_name="toy", out=tmp_path)
    (result,) = run.scores
    assert (result.scored, result.failed) == (0, 4) and math.isnan(result.metrics["accuracy"])
    assert all(s["scores"] == {} and "model_graded" in s["metadata"]["failed_scores"] for s in run.samples)
    with pytest.raises(AlignlabError, match="needs a grader model"):
        eval_task(task, generator, model_name="toy", out=tmp_path)


# --- multiple choice by log-probabilities ---------------------------------------------------------------


def test_next_token_logprobs_batched_equal_one_at_a_time(letter_model):
    """Left padding must not change what the model predicts: each row's letter log-probs in a batch of
    different lengths equal a forward pass on that prompt alone."""
    model, tokenizer = letter_model
    generator = HFGenerator(model, tokenizer, batch_size=3, chat=False)
    prompts = ["what is one ?", "what ?", "Answer : what is two three one ?", "is"]
    batched = generator.next_token_logprobs(prompts, LETTERS)
    for prompt, got in zip(prompts, batched, strict=True):
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            direct = model(ids).logits[0, -1].log_softmax(-1)
        for letter in LETTERS:
            assert got[letter] == pytest.approx(
                direct[tokenizer.convert_tokens_to_ids(letter)].item(), abs=1e-4
            )


def test_continuations_scored_on_a_shared_prompt_cache_equal_full_passes(letter_model):
    generator = HFGenerator(*letter_model)
    prompts = ["what is one ?", [{"role": "system", "content": "two"}, {"role": "user", "content": "what ?"}]]
    continuations = ["A", "one two", "Answer : three ?"]
    shared = generator.continuation_logprobs(prompts, continuations)
    full = generator.completion_logprobs([p for p in prompts for _ in continuations], continuations * 2)
    assert [x for row in shared for x in row] == pytest.approx(full, abs=1e-4)


def test_multiple_choice_answers_with_the_most_likely_letter(letter_model, toy):
    model, tokenizer = letter_model
    states = [TaskState.start(Sample("what is one", "B", i, ("one", "two", "three")), 1) for i in range(3)]
    MultipleChoice()(states, Roles(HFGenerator(model, tokenizer, chat=False)))
    for state in states:
        probs = state.choice_logprobs
        assert set(probs) == {"A", "B", "C"} and state.answer == max(probs, key=probs.get)
    options = [TaskState.start(Sample("what is", "B", 0, ("one two", "three", "is is is")), 1)]
    local = HFGenerator(model, tokenizer, chat=False)
    MultipleChoice(scoring="option")(options, Roles(local))
    totals = local.completion_logprobs(["what is"] * 3, ["one two", "three", "is is is"])
    assert list(options[0].choice_logprobs.values()) == pytest.approx(totals)
    assert options[0].answer == "ABC"[max(range(3), key=totals.__getitem__)]
    tied = [TaskState.start(Sample("what", "A", 0, ("x", "y")), 1)]
    MultipleChoice()(tied, Roles(HFGenerator(*toy)))  # the toy Markov vocabulary has no letters: all <unk>
    assert tied[0].answer is None
    assert Choice()(tied, Roles(HFGenerator(*toy)))[0].explanation == "the options tie under this model"


@pytest.mark.slow
def test_multiple_choice_through_an_endpoint_reads_top_logprobs(letter_model, serve):
    """Over a real `alignlab serve`, letters come from the first token's top log-probs; they agree with the
    local forward pass."""
    from alignlab.evals.solvers import choice_logprobs
    from alignlab.generation import OpenAIGenerator

    local = HFGenerator(*letter_model)  # the chat template, as the server applies it
    url = serve(local, "letters")
    prompts = ["what is one ?", "what is two ?"]
    remote = choice_logprobs(OpenAIGenerator("letters", base_url=url), prompts, LETTERS)
    direct = local.next_token_logprobs(prompts, LETTERS)
    for got, want in zip(remote, direct, strict=True):
        for letter in LETTERS:
            if math.isfinite(got[letter]):
                assert got[letter] == pytest.approx(want[letter], abs=1e-3)
        assert max(got, key=got.get) == max(want, key=want.get)


# --- the runner and the Inspect log ---------------------------------------------------------------------


def test_eval_writes_a_run_folder_and_an_inspect_log(toy, tmp_path):
    task = get_task("over-refusal", max_tokens=4)
    run = eval_task(task, HFGenerator(*toy), model_name="toy-llama-tiny", limit=10, epochs=2, out=tmp_path)
    folder = run.folder.path
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "samples.jsonl",
        "results.json",
        "report.md",
        "logs",
    }
    assert len((folder / "samples.jsonl").read_text().splitlines()) == 20
    results = json.loads((folder / "results.json").read_text())
    assert results["scores"][0]["scored"] == 10 and results["epochs"] == 2
    with zipfile.ZipFile(run.log) as archive:
        names = set(archive.namelist())
        header = json.loads(archive.read("header.json"))
    assert {
        "_journal/start.json",
        "summaries.json",
        "header.json",
        "samples/safe-homonyms-1_epoch_2.json",
    } <= names
    assert header["status"] == "success" and header["results"]["completed_samples"] == 20
    assert header["eval"]["task_args"]["max_tokens"] == 4


def test_inspect_reads_the_log_back(toy, tmp_path):
    """The round trip through inspect-ai's own reader: samples, scores and metrics survive."""
    log_module = pytest.importorskip("inspect_ai.log")
    task = get_task("capability-mcq", few_shot=2)
    run = eval_task(task, HFGenerator(*toy), model_name="toy-llama-tiny", limit=6, out=tmp_path)
    log = log_module.read_eval_log(str(run.log))
    assert (
        log.status == "success"
        and log.eval.task == "capability-mcq"
        and log.eval.model == "alignlab/toy-llama-tiny"
    )
    assert [s.id for s in log.samples] == [f"mcq-{i}" for i in range(1, 7)]
    assert log.samples[0].choices == ["Paris", "Dublin", "Oslo", "Rome"]
    assert log.samples[0].scores["choice"].value in ("C", "I")
    metrics = log.results.scores[0].metrics
    assert metrics["accuracy"].value == pytest.approx(run.scores[0].metrics["accuracy"])
    assert [step.solver for step in log.plan.steps] == ["MultipleChoice"]
    listed = log_module.list_eval_logs(str(run.log.parent))
    assert len(listed) == 1


def test_an_eval_that_fails_half_way_keeps_the_samples_it_finished(toy, tmp_path):
    """The third sample is longer than the toy model's context: the second batch fails with a clear error,
    and the first batch's samples are in samples.jsonl and in an Inspect log marked error."""
    samples = [
        Sample("alpha beta", "x", 1),
        Sample("beta", "x", 2),
        Sample(" ".join(["alpha"] * 600), "x", 3),
    ]
    task = Task("long", samples, [Generate(max_tokens=2)], [Includes()])
    with pytest.raises(AlignlabError, match="longer than"):
        eval_task(task, HFGenerator(*toy), model_name="toy", batch_size=2, out=tmp_path)
    (folder,) = tmp_path.glob("eval-long-*")
    assert [json.loads(line)["id"] for line in (folder / "samples.jsonl").read_text().splitlines()] == [1, 2]
    (log,) = (folder / "logs").glob("*.eval")
    with zipfile.ZipFile(log) as archive:
        header = json.loads(archive.read("header.json"))
        assert header["status"] == "error" and "longer than" in header["error"]["message"]
        assert len(json.loads(archive.read("summaries.json"))) == 2
    assert not (folder / "results.json").exists()


@pytest.mark.slow
def test_one_model_is_trained_evaluated_and_interpreted_without_glue(tmp_path):
    """examples/train_eval_interpret.py: SFT lifts the eval's accuracy, and the logit lens reads the same
    model object that was trained and evaluated."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "examples" / "train_eval_interpret.py"
    spec = importlib.util.spec_from_file_location("train_eval_interpret", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(steps=200, out=str(tmp_path))
    assert result["accuracy_before"] <= 0.2 and result["accuracy_after"] >= 0.9
    assert all(layer is not None for layer in result["first_top1_layer"])
    assert len(list(tmp_path.glob("eval-successor-*/logs/*.eval"))) == 2


# --- judges ---------------------------------------------------------------------------------------------


def test_judge_agreement_counts_kappa_and_failures():
    from alignlab.evals import judge_agreement

    labels = ("yes", "no")
    gold = ["yes"] * 10 + ["no"] * 10
    perfect = judge_agreement(gold, gold, labels)
    assert (perfect.accuracy, perfect.kappa, perfect.failed) == (1.0, 1.0, 0) and perfect.trusted
    always_yes = judge_agreement(["yes"] * 20, gold, labels)
    assert always_yes.accuracy == 0.5 and always_yes.kappa == 0.0 and not always_yes.trusted
    assert always_yes.confusion == {"yes": {"yes": 10, "no": 0}, "no": {"yes": 10, "no": 0}}
    half_unread = judge_agreement(gold[:10] + [None] * 10, gold, labels)
    assert half_unread.n == 10 and half_unread.failed == 10 and not half_unread.trusted  # 10/20 right overall


def test_refusal_judge_replies_are_parsed_or_counted_as_failures():
    from alignlab.evals.judges import parse_refusal_class

    cases = {
        "1_full_compliance": "full_compliance", "CLASS: 2": "full_refusal", " 3_partial_refusal": "partial_refusal",
        "full refusal": "full_refusal", "Partial refusal.": "partial_refusal", "The response is compliant": None,
        "12 apples": None, "": None,
    }  # fmt: skip
    assert {reply: parse_refusal_class(reply) for reply in cases} == cases


def test_an_untrusted_judge_is_reported_with_its_scores(toy, tmp_path):
    """A tiny untrained grader cannot name a class: the validation check says so before any score is read,
    and the eval's results, report and Inspect log carry that check."""
    generator = HFGenerator(*toy)
    task = get_task("over-refusal", judge=True, max_tokens=3, refusal_probability=False)
    run = eval_task(task, Roles(generator, grader=generator), model_name="toy", limit=4, out=tmp_path)
    judge = next(r for r in run.scores if r.name == "refusal_judge")
    assert judge.judge["trusted"] is False and judge.judge["n"] + judge.judge["failed"] == 30
    assert "NOT trusted" in (run.folder.path / "report.md").read_text()
    with zipfile.ZipFile(run.log) as archive:
        header = json.loads(archive.read("header.json"))
    scored = {s["name"]: s for s in header["results"]["scores"]}
    assert scored["refusal_judge"]["metadata"]["judge_validation"]["trusted"] is False


# --- the command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_name", ["capability-mcq", "over-refusal", "sycophancy", "consistency", "calibration"]
)
def test_alignlab_eval_runs_every_built_in_task_on_a_toy_model(task_name, tmp_path, monkeypatch, capsys):
    import sys

    from alignlab.cli import main
    from alignlab.evals.task import registered_tasks

    assert task_name in registered_tasks()
    monkeypatch.setattr(sys, "argv", ["alignlab", "eval", task_name, "--model", "toy-llama-tiny", "--limit", "3",
                                      "--out", str(tmp_path), "--device", "cpu"])  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr().out
    assert exit_.value.code == 0, out
    assert f"{task_name} " in out and "inspect log:" in out
    (folder,) = tmp_path.glob(f"eval-{task_name}-*")
    assert (folder / "results.json").exists() and len(list((folder / "logs").glob("*.eval"))) == 1


def test_alignlab_eval_runs_pair_with_attacker_and_grader_models(tmp_path, monkeypatch, capsys):
    import sys

    from alignlab.cli import main

    monkeypatch.setattr(sys, "argv", ["alignlab", "eval", "pair", "--model", "toy-llama-tiny", "--attacker",
                                      "toy-llama-tiny", "--grader", "toy-llama-tiny", "--limit", "1", "--set",
                                      "streams=1", "--set", "iterations=2", "--out", str(tmp_path), "--device", "cpu"])  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr().out
    assert exit_.value.code == 0, out
    (folder,) = tmp_path.glob("eval-pair-*")
    (sample,) = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert len(sample["metadata"]["pair_turns"]) == 2
    assert json.loads((folder / "config.json").read_text())["roles"] == {"grader": "toy-llama-tiny",
                                                                          "attacker": "toy-llama-tiny"}  # fmt: skip


def test_the_task_list_names_every_task(capsys, monkeypatch):
    import sys

    from alignlab.cli import main
    from alignlab.evals.task import registered_tasks

    monkeypatch.setattr(sys, "argv", ["alignlab", "tasks"])
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    assert all(name in out for name in registered_tasks())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "nope"], "unknown task 'nope'"),
        (["eval", "over-refusal", "--set", "subset=bad"], "argument subset: Input should be"),
        (
            ["eval", "over-refusal", "--set", "judge=true", "--model", "toy-llama-tiny", "--limit", "1"],
            "the refusal judge scorer needs a grader model (--grader MODEL)",
        ),
        (["eval", "over-refusal", "--model", "no-such-model"], "unknown model 'no-such-model'"),
        (
            ["eval", "pair", "--model", "toy-llama-tiny", "--limit", "1"],
            "the PAIR solver needs an attacker model",
        ),
        (["eval", "pair", "--model", "toy-llama-tiny", "--attacker", "nope"], "unknown model 'nope'"),
    ],
)
def test_bad_eval_input_is_one_error_line(args, message, tmp_path, monkeypatch, capsys):
    import sys

    from alignlab.cli import main

    monkeypatch.setattr(sys, "argv", ["alignlab", *args, "--out", str(tmp_path), "--device", "cpu"])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("eval-*")), "nothing is written for input refused up front"


def test_prompt_solvers_and_self_critique_shape_the_conversation(toy):
    from alignlab.evals import ChainOfThought, SelfCritique, SystemMessage

    roles = Roles(HFGenerator(*toy))
    states = [TaskState.start(Sample(f"question {i}", "x", i), 1) for i in range(3)]
    for solver in (
        SystemMessage("be brief"),
        ChainOfThought(),
        Generate(max_tokens=3),
        SelfCritique(max_tokens=3),
    ):
        solver(states, roles)
    for state in states:
        roles_seen = [m["role"] for m in state.messages]
        assert roles_seen == ["system", "user", "assistant", "assistant"]
        assert state.messages[1]["content"].endswith("give your final answer on the last line.")
        assert {"first_answer", "critique"} <= set(state.metadata)
        assert state.messages[-1]["content"] == state.completion


@pytest.mark.slow
def test_alignlab_eval_against_an_endpoint(toy, serve, tmp_path, monkeypatch, capsys):
    """Through a real `alignlab serve`: a scorer that needs a local model is refused before anything is
    written; without it, the eval runs over HTTP."""
    import sys

    from alignlab.cli import main

    url = serve(HFGenerator(*toy), "toy-llama-tiny")
    base = ["alignlab", "eval", "over-refusal", "--endpoint", url, "--model", "toy-llama-tiny", "--limit", "3",
            "--set", "max_tokens=3", "--out", str(tmp_path)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", base)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1 and "needs a local model" in capsys.readouterr().err
    assert not list(tmp_path.glob("eval-*"))
    monkeypatch.setattr(sys, "argv", [*base, "--set", "refusal_probability=false"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    (folder,) = tmp_path.glob("eval-over-refusal-*")
    assert len((folder / "samples.jsonl").read_text().splitlines()) == 3


def test_with_fail_on_error_off_a_failing_sample_is_logged_and_counted(toy, tmp_path):
    """The same too-long sample: its batch is retried one sample at a time, the others are scored, and it is
    logged with its error (Inspect's sample error field) and counted, not scored."""
    samples = [
        Sample("alpha beta", "x", 1),
        Sample("beta", "x", 2),
        Sample(" ".join(["alpha"] * 600), "x", 3),
    ]
    task = Task("long", samples, [Generate(max_tokens=2)], [Includes()])
    run = eval_task(
        task, HFGenerator(*toy), model_name="toy", batch_size=3, out=tmp_path, fail_on_error=False
    )
    assert [s["id"] for s in run.samples] == [1, 2, 3] and run.scores[0].scored == 2
    assert "longer than" in run.samples[2]["error"]["message"] and run.samples[2]["scores"] == {}
    results = json.loads((run.folder.path / "results.json").read_text())
    assert results["errors"] == 1
    assert "1 of them failed with an error" in (run.folder.path / "report.md").read_text()
    log_module = pytest.importorskip("inspect_ai.log")
    log = log_module.read_eval_log(str(run.log))
    assert log.status == "success" and log.samples[2].error.message.startswith("AlignlabError")
    assert log.results.completed_samples == 2


@pytest.mark.slow
def test_an_api_key_is_required_by_the_server_sent_by_eval_and_written_nowhere(toy, serve, tmp_path):
    import os
    import subprocess
    import sys

    import openai

    key = "sk-test-7f3a9c-not-a-real-key"
    url = serve(HFGenerator(*toy), "toy-llama-tiny", api_key=key)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()
    assert [m.id for m in openai.OpenAI(base_url=url, api_key=key).models.list()] == ["toy-llama-tiny"]
    command = [sys.executable, "-m", "alignlab.cli", "eval", "over-refusal", "--endpoint", url, "--model",
               "toy-llama-tiny", "--limit", "2", "--set", "max_tokens=3", "--set", "refusal_probability=false",
               "--out", str(tmp_path)]  # fmt: skip
    without = {k: v for k, v in os.environ.items() if k != "ALIGNLAB_API_KEY"}
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300, env=without)
    assert refused.returncode == 1 and "API key" in refused.stderr  # no key: one clear line
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**without, "ALIGNLAB_API_KEY": key}
    )
    assert done.returncode == 0, done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if key.encode() in p.read_bytes()]
