"""lm-evaluation-harness (the `lmeval` extra) against `alignlab serve` over loopback: its `local-completions` model
runs a multiple-choice task through /v1/completions with echo and prompt log-probs, and the log-likelihoods it
reads are the ones the model gives."""

import json

import pytest

lm_eval = pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the optional `lmeval` extra")

QUESTIONS = [("w1 w2 w3", [" w4", " w9"]), ("w7 w8", [" w9", " w2"]), ("w11", [" w12", " w3"])]


@pytest.mark.slow
def test_lm_eval_harness_scores_a_task_through_alignlab_serve(toy, serve, tmp_path, monkeypatch):
    from lm_eval.tasks import TaskManager

    from alignlab.generation import HFGenerator
    from alignlab.scoring import score_completions

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, tokenizer = toy
    url = serve(HFGenerator(model, tokenizer), "toy")
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    data = tmp_path / "questions.jsonl"
    data.write_text(
        "".join(json.dumps({"context": c, "choices": o, "label": 0}) + "\n" for c, o in QUESTIONS)
    )
    (tmp_path / "task.yaml").write_text(f"""task: alignlab_toy_choice
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
""")
    results = lm_eval.simple_evaluate(
        model="local-completions",
        model_args=f"model=toy,base_url={url}/completions,tokenizer={tmp_path / 'tokenizer'},"
        "tokenizer_backend=huggingface,num_concurrent=1,max_retries=1",
        tasks=["alignlab_toy_choice"], task_manager=TaskManager(include_path=str(tmp_path)), log_samples=True,
    )  # fmt: skip
    samples = results["samples"]["alignlab_toy_choice"]
    assert len(samples) == len(QUESTIONS)
    for sample in samples:
        context, options = QUESTIONS[sample["doc_id"]]
        harness = [resp[0][0] for resp in sample["resps"]]  # (log-likelihood, is greedy) per option
        ours = score_completions(model, tokenizer, [context] * len(options), options, chat=False)
        assert harness == pytest.approx([s.total for s in ours], abs=1e-4)
    accuracy = results["results"]["alignlab_toy_choice"]["acc,none"]
    assert accuracy == sum(s["acc"] for s in samples) / len(samples)
