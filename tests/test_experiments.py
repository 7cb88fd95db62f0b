import json

import pytest

from alignlab.errors import AlignlabError
from alignlab.experiments import catalog, get_experiment, run_experiment
from alignlab.reporting import RunIndex


def test_catalog_lists_experiments_with_cpu_and_gpu_presets():
    experiments = catalog()
    assert {"quickstart", "tiny-pretrain"} <= set(experiments)
    assert all({"cpu", "gpu"} <= set(e.presets) and e.claim.paper for e in experiments.values())


def test_unknown_names_and_bad_values_are_clear_errors():
    with pytest.raises(AlignlabError, match="unknown experiment 'nope'; experiments: .*quickstart"):
        get_experiment("nope")
    exp = get_experiment("tiny-pretrain")
    with pytest.raises(AlignlabError, match="no preset 'tpu'; presets: cpu, gpu"):
        exp.resolve("tpu")
    with pytest.raises(AlignlabError, match="steps: Input should be a valid integer"):
        exp.resolve("cpu", {"steps": "many"})
    with pytest.raises(AlignlabError, match=r"warmup_steps \(30\) must be between 0 and steps \(10\)"):
        exp.resolve("cpu", {"steps": 10})
    with pytest.raises(AlignlabError, match="wat: Extra inputs are not permitted"):
        exp.resolve("cpu", {"wat": 1})


def test_bad_config_writes_nothing(tmp_path):
    with pytest.raises(AlignlabError, match="unknown model"):
        run_experiment("quickstart", out=tmp_path / "runs", overrides={"model": "no-such-model"})
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_tiny_pretrain_smoke(tmp_path):
    run = run_experiment(
        "tiny-pretrain",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(steps=60, warmup_steps=5, eval_every=20, batch_size=16, eval_sequences=64),
    )
    results = json.loads((run.path / "results.json").read_text())
    config = json.loads((run.path / "config.json").read_text())
    assert config["config"]["steps"] == 60 and config["seeds"] == [0]
    assert {"torch", "transformers", "accelerate"} <= set(config["versions"])
    assert config["source_revision"].startswith(("git:", "sha256:"))
    assert results["verdict"] in {"reproduced", "partial", "not_reproduced"}
    assert results["measured"]["entropy_rate"] < results["measured"]["final_eval_loss"]
    # even 60 steps must beat a model that ignores context
    assert results["measured"]["final_eval_loss"] < results["measured"]["unigram_entropy"]
    assert [m["step"] for m in run.read_metrics()] == [20, 40, 60]
    [seed] = results["per_seed"]
    assert seed["seed"] == 0 and seed["record"]["eval_sequences"] == 64 and len(seed["record"]["curve"]) == 4
    assert (run.path / "plots" / "loss_curve.png").stat().st_size > 1000
    assert "data:image/png;base64," in (run.path / "report.html").read_text()
    [record] = RunIndex(tmp_path).list()
    assert (record.status, record.verdict) == ("finished", results["verdict"])


def test_several_seeds_pool_into_one_verdict(tmp_path):
    overrides = dict(steps=20, warmup_steps=0, eval_every=10, batch_size=8, eval_sequences=16)
    run = run_experiment(
        "tiny-pretrain", out=tmp_path, device="cpu", show_progress=False, overrides=overrides, seeds=[0, 5]
    )
    results = json.loads((run.path / "results.json").read_text())
    assert results["seeds"] == [0, 5] and [s["seed"] for s in results["per_seed"]] == [0, 5]
    first, second = (s["record"]["final_eval_loss"] for s in results["per_seed"])
    assert first != second and results["measured"]["final_eval_loss"] == pytest.approx(
        (first + second) / 2, abs=1e-4
    )
    assert {m["seed"] for m in run.read_metrics()} == {0, 5}
    assert (run.path / "plots" / "seed-5-loss_curve.png").exists()
    assert "Seed 5: Loss curve" in (run.path / "report.md").read_text()
    for bad in ([], [1, 1], [-1], [2**32]):
        with pytest.raises(AlignlabError, match="--seed"):
            run_experiment("tiny-pretrain", out=tmp_path / "never", overrides=overrides, seeds=bad)
    assert not (tmp_path / "never").exists()


def test_same_seed_same_numbers(tmp_path):
    overrides = dict(steps=20, warmup_steps=0, eval_every=10, batch_size=8, eval_sequences=16)
    a, b = (
        run_experiment("tiny-pretrain", out=tmp_path, device="cpu", show_progress=False, overrides=overrides)
        for _ in range(2)
    )
    assert a.path != b.path
    measured = [json.loads((r.path / "results.json").read_text())["measured"] for r in (a, b)]
    assert measured[0] == measured[1]


@pytest.mark.slow
@pytest.mark.embedded
def test_quickstart_smoke_on_the_embedded_model(tmp_path, embedded):
    run = run_experiment(
        "quickstart",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(max_probes=1, max_pairs=6, max_new_tokens=12),
    )
    results = json.loads((run.path / "results.json").read_text())
    measured = results["measured"]
    assert 0 < measured["p_value"] <= 1
    [seed] = results["per_seed"]
    assert {"benign", "harmful", "benign_lookalike"} == set(seed["record"]["refusal_rate"])
    # the first six pairs are easy factual questions: a working scorer gets most of them right
    assert measured["judge_accuracy_factual"] >= 4 / 6
    report = (run.path / "report.md").read_text()
    assert "What is the capital of France?" in report and "## Likelihood judge" in report


def test_grpo_experiment_smoke(tmp_path):
    run = run_experiment(
        "grpo", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(max_operand=9, sft_steps=20, sft_warmup_steps=5, validation_problems=20, grpo_steps=4, group_size=4, prompts_per_step=4, eval_problems=20,
                       pass_k=2),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert results["verdict"] in {"reproduced", "partial", "not_reproduced"}
    assert len(record["sft"]["greedy_correct"]) == 20 and all(
        0 <= c <= 2 for c in record["grpo"]["samples_correct"]
    )
    # KL to the SFT model is measured for every policy, the run without the KL term included
    assert record["sft"]["kl_to_sft"] == pytest.approx(0, abs=1e-4) and record["grpo_no_kl"]["kl_to_sft"] != 0
    metrics = run.read_metrics()
    assert {"grpo_reward", "grpo_no_kl_reward"} <= set().union(*metrics)


def test_distillation_experiment_smoke(tmp_path):
    run = run_experiment(
        "distillation", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(teacher_hidden=32, student_hidden=8, max_steps=60, eval_every=10, patience=20,
                       temperatures=[1.0, 20.0]),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert results["measured"]["test_images"] == 540 == len(record["teacher_wrong"])
    assert 0 < sum(record["teacher_wrong"]) < 540 and set(record["distilled_wrong"]) == {"1.0", "20.0"}
    assert all(0 < step <= 60 for step in record["stopped_at"].values())  # the best validation step is kept
    with pytest.raises(AlignlabError, match="temperatures must include 20"):
        get_experiment("distillation").resolve("cpu", {"temperatures": [1.0, 2.0]})


def test_rlhf_pipeline_smoke(tmp_path):
    run = run_experiment(
        "rlhf-pipeline", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(pretrain_steps=20, n_pairs=64, rm_steps=8, ppo_steps=4, prompts_per_step=8, eval_every=2, n_eval_prompts=16),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert 0 <= record["rm_accuracy_held_out"] <= 1 and record["label_agreement_with_gold"] > 0.5
    assert [m["step"] for m in run.read_metrics()] == [2, 4]
    assert len(record["gold_ppo"]) == 16 and (run.path / "plots" / "rlhf.png").exists()


@pytest.mark.slow
def test_dpo_robustness_smoke(tmp_path):
    run = run_experiment(
        "dpo-robustness", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(pretrain_steps=20, n_pairs=32, flip_rates=[0.0, 0.4], steps=3, batch_size=16, n_eval_prompts=16),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    assert {"gold_sigmoid_flip0.4", "gold_dr_dpo_flip0.4", "gold_robust_flip0.4", "gold_ipo_flip0.4"} <= set(
        results["measured"]
    )
    record = results["per_seed"][0]["record"]
    assert set(record["gold"]["dr_dpo"]) == {"0.0", "0.4"} and len(record["gold"]["dr_dpo"]["0.4"]) == 16
    assert len(run.read_metrics()) == 2 * 4


@pytest.mark.slow
def test_dpo_frontier_smoke(tmp_path):
    run = run_experiment(
        "dpo-frontier", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(pretrain_steps=20, n_pairs=32, dpo_betas=[0.1], dpo_steps=4, ppo_kl_coefs=[0.05], ppo_steps=4,
                       prompts_per_step=8, rm_steps=4, n_eval_prompts=16, eval_every=2, noisy_dpo_betas=[0.1],
                       noisy_ppo_kl_coefs=[0.05], bootstrap_resamples=10),
    )  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    # each of 4 runs (DPO, PPO × clean, noisy) contributes the base point and checkpoints at steps 2 and 4
    assert sorted(p["step"] for p in record["points"]) == [0] * 4 + [2] * 4 + [4] * 4
    assert {p["labels"] for p in record["points"]} == {"clean", "noisy"}
    assert record["label_agreement"]["clean"] == 1.0  # noise-free labels with ties dropped


@pytest.mark.slow
def test_overoptimization_experiment_smoke(tmp_path):
    run = run_experiment(
        "overoptimization", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(pretrain_steps=20, rm_pairs=[16, 32], rm_steps=4, bon_prompts=4, bon_samples=8, ppo_steps=4,
                       prompts_per_step=8, eval_every=2, n_eval_prompts=16),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    curves = results["per_seed"][0]["record"]["curves"]
    assert [len(curves["bon"]["16"]["d"]), len(curves["rl"]["32"]["d"])] == [4, 3]  # n = 1..8; steps 0, 2, 4
    assert {"peak_d_bon_16", "overoptimized_rl_32"} <= set(results["measured"])


@pytest.mark.slow
@pytest.mark.embedded
def test_logit_lens_experiment_on_the_embedded_model(tmp_path, embedded):
    run = run_experiment("logit-lens", out=tmp_path, device="cpu", show_progress=False)
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["n_layers"] == 30
    eiffel = next(p for p in record["prompts"] if p["prompt"].startswith("The Eiffel"))
    # the model answers ' Paris' (final rank 0), and the embedding layer alone cannot know it
    assert eiffel["final_top1"] == " Paris" and eiffel["ranks"][-1] == 0 and eiffel["ranks"][0] > 100


@pytest.mark.slow
@pytest.mark.embedded
def test_fact_patching_smoke_on_the_embedded_model(tmp_path, embedded):
    run = run_experiment(
        "fact-patching", out=tmp_path, device="cpu", show_progress=False,
        overrides={"max_pairs": 2, "showcase_stride": 10},
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert results["verdict"] == "not_applicable" and len(record["pairs"]) == 2  # 2 pairs are too few
    eiffel = record["pairs"][0]
    assert eiffel["clean"] == "The Eiffel Tower is in the city of"
    assert eiffel["tokens"][eiffel["subject_first"] : eiffel["subject_last"] + 1] == [" E", "iffel", " Tower"]
    assert len(eiffel["mlp_subject"]) == 30 and (run.path / "plots" / "patching.png").exists()
    with pytest.raises(AlignlabError, match="exactly once"):
        run_experiment("fact-patching", out=tmp_path, overrides={"template": "The city of"})


@pytest.mark.slow
@pytest.mark.embedded
def test_tuned_lens_and_sae_experiments_smoke_on_the_embedded_model(tmp_path, embedded):
    from alignlab.interp.sae import load_sae
    from alignlab.interp.tuned_lens import TunedLens

    run = run_experiment(
        "tuned-lens",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(layer_stride=14, seq_len=16, train_blocks=8, eval_blocks=2, steps=2, batch_size=2),
    )
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["layers"] == [0, 14, 28] and all(len(v) == 2 for v in record["tuned_kl"].values())
    assert TunedLens.load(run.path / "tuned_lens").n_layers == 30
    run = run_experiment(
        "sae",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            layer=3,
            expansion=1,
            k=8,
            seq_len=16,
            train_blocks=16,
            eval_blocks=4,
            steps=3,
            batch_size=64,
            report_features=2,
        ),
    )
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["site"] == "blocks.3.hook_resid_post" and record["l0"] <= 8 and len(record["ce_mean"]) == 4
    assert results["measured"]["loss_increase_nats"] > -0.5
    assert load_sae(run.path / "sae").config.d_sae == 576
    with pytest.raises(AlignlabError, match=r"layer 30 does not exist.*0..29"):
        run_experiment("sae", out=tmp_path, device="cpu", show_progress=False, overrides={"layer": 30})


@pytest.mark.slow
def test_toy_interpretability_experiments_smoke(tmp_path):
    run = run_experiment(
        "induction-heads",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            steps=20,
            warmup_steps=5,
            eval_every=10,
            batch_size=8,
            seq_len=32,
            min_period=4,
            max_period=12,
            eval_half=8,
            eval_sequences=16,
            vocab=64,
        ),
    )
    results = json.loads((run.path / "results.json").read_text())
    two = results["per_seed"][0]["record"]["two_layer"]
    assert [step for step, *_ in two["curve"]] == [0, 10, 20] and len(two["prefix_scores"]) == 4
    assert len(two["second_copy_loss"]) == 16 and -1 <= two["copying_score"] <= 1
    run = run_experiment(
        "moe-routing",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(steps=6, warmup_steps=0, batch_size=8, seq_len=16),
    )
    results = json.loads((run.path / "results.json").read_text())
    assert 0 <= results["measured"]["load_cv_layer1_with"] and results["measured"]["uniform_share"] == 0.125
    assert all(layer["cv_with_se"] > 0 for layer in results["per_seed"][0]["record"]["layers"])
    run = run_experiment(
        "superposition",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            n_features=6,
            n_hidden=2,
            sparsities=[0.0, 0.9],
            instances=2,
            steps=50,
            phase_grid=2,
            phase_instances=1,
            phase_steps=20,
            sae_sparsity=0.9,
            sae_steps=20,
            random_decoders=10,
        ),
    )
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert set(record["represented"]) == {"0.0", "0.9"} and len(record["represented"]["0.9"]) == 2
    assert len(record["phases"]) == 2 and all(len(cell) == 1 for row in record["phases"] for cell in row)
    assert (run.path / "plots" / "superposition.png").exists()


@pytest.mark.slow
@pytest.mark.embedded
def test_cai_experiment_over_http_writes_data_the_trainers_read(tmp_path, embedded, serve):
    from alignlab.data.formats import load_completions, load_preferences
    from alignlab.generation import HFGenerator

    url = serve(HFGenerator(*embedded), "smollm2-135m-instruct")
    tiny = dict(
        endpoint=url,
        prompts_per_kind=1,
        principle_ids=["harm-dangerous-help"],
        reply_tokens=12,
        critique_tokens=4,
        revision_tokens=12,
        labeler_pairs=4,
        violation_labeler_per_category=1,
    )
    run = run_experiment("cai", out=tmp_path, device="cpu", show_progress=False, overrides=tiny)
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["critiques"] >= 2 and len(record["replies"]) == 2 and len(record["judge_gold_agrees"]) <= 4
    assert {r["kind"] for r in record["replies"]} == {"harmful", "benign_lookalike"}
    assert len(load_completions(run.path / "sl_cai.jsonl")) == record["sl_cai_records"]
    assert len(load_preferences(run.path / "rl_cai_preferences.jsonl")) == record["rl_cai_preferences"]
    assert "round 0 harm-dangerous-help" in (run.path / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.embedded
def test_debate_qa_experiment_smoke(tmp_path, embedded):
    run = run_experiment(
        "debate-qa",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(questions=2, evidence_tokens=4),
    )
    results = json.loads((run.path / "results.json").read_text())
    assert {"accuracy_naive", "accuracy_consultancy", "accuracy_debate", "accuracy_with_story"} <= set(
        results["measured"]
    )
    assert results["verdict"] == "not_applicable"  # 2 questions cannot show the judge above chance
    assert results["per_seed"][0]["record"]["judge_failures"] == 0
    assert "Story (hidden from the judge)" in (run.path / "report.md").read_text()


def test_fictional_stories_hold_both_answers():
    from alignlab.data.stories import fictional_stories

    stories = fictional_stories(60, seed=0)
    assert len({s.passage + s.question for s in stories}) == 60
    for s in stories:  # both options appear in the story, so each side has a sentence to quote
        assert s.correct.removeprefix("at ").removeprefix("on ") in s.passage
        assert s.distractor.removeprefix("at ").removeprefix("on ") in s.passage and s.correct != s.distractor


@pytest.mark.slow
def test_debate_pixels_smoke(tmp_path):
    run = run_experiment(
        "debate-pixels",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(pixels=[4], masks_per_image=3, max_test_images=60),
    )
    results = json.loads((run.path / "results.json").read_text())
    [outcome] = results["per_seed"][0]["record"]["outcomes"]
    n = len(outcome["random_10way"])
    # even a judge trained on 3 masks per image is far above chance with 4 random pixels
    assert 0.2 < results["measured"]["random_4px"] <= 1 and n == 60
    # the best lie over greedy and two-ply liars is at least as hard to beat as the greedy liar alone
    for order in ("first", "second"):
        strongest, greedy = outcome[f"best_lie_{order}"], outcome[f"greedy_best_lie_{order}"]
        assert all(s <= g for s, g in zip(strongest, greedy, strict=True))
        assert sum(strongest) <= sum(outcome[f"random_lie_{order}"])


def test_weak_to_strong_smoke_and_confidence_loss(tmp_path):
    import torch

    from alignlab.oversight.weak_to_strong import confidence_loss, performance_gap_recovered

    logits = torch.tensor([[0.0, 2.0], [0.0, 1.0], [0.0, -1.0], [0.0, -2.0]])
    weak = torch.tensor([0.9, 0.2, 0.6, 0.1])  # mean 0.45: the top half of P(1) is hardened to 1
    hard = torch.tensor([1.0, 1.0, 0.0, 0.0])
    for alpha in (0.0, 0.5):
        target = (1 - alpha) * weak + alpha * hard
        expected = -(
            target * logits.log_softmax(-1)[:, 1] + (1 - target) * logits.log_softmax(-1)[:, 0]
        ).mean()
        assert confidence_loss(logits, weak, alpha).item() == pytest.approx(expected.item(), rel=1e-6)
    assert performance_gap_recovered(0.6, 0.7, 0.8) == pytest.approx(0.5)
    run = run_experiment(
        "weak-to-strong",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(max_epochs=2, weak_views=[4]),
    )
    results = json.loads((run.path / "results.json").read_text())
    assert (
        0.5 < results["measured"]["median_weak_accuracy"] <= 1
        and results["measured"]["median_ceiling_accuracy"] > 0.5
    )
    assert len(results["per_seed"][0]["record"]["pairings"]) == 5  # 5 tasks × 1 supervisor


def test_students_leave_the_global_random_state_alone_and_can_freeze_their_trunk():
    import torch

    from alignlab.oversight.weak_to_strong import StudentConfig, pretrain_trunk, train_student

    x, digit = torch.rand(200, 8), torch.randint(0, 3, (200,))
    cfg = StudentConfig(hidden=16, max_epochs=2, batch_size=32)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trunk = pretrain_trunk(x, digit, cfg, seed=0)
    student = train_student(
        x, (digit == 1).float(), cfg.model_copy(update={"freeze_trunk": True}), trunk=trunk
    )
    assert torch.equal(torch.rand(3), expected)  # neither call reseeded the caller's generator
    assert all(torch.equal(a, b) for a, b in zip(student.trunk.parameters(), trunk.parameters(), strict=True))


@pytest.mark.slow
def test_prm_vs_orm_smoke(tmp_path):
    run = run_experiment(
        "prm-vs-orm",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            min_steps=2,
            max_steps=2,
            sft_problems=256,
            sft_steps=300,
            sft_check_every=50,
            validation_problems=16,
            verifier_problems=8,
            samples_per_problem=2,
            verifier_steps=3,
            verifier_warmup_steps=1,
            test_problems=4,
            pool_size=8,
            best_of=4,
            beam_width=2,
            expansions=2,
        ),
    )
    results = json.loads((run.path / "results.json").read_text())
    [seed] = results["per_seed"]
    record = seed["record"]
    assert "prm_step_auroc" in results["measured"] and 0 <= record["kept_share"] <= 1
    assert len(record["step_labels"]) == len(record["step_scores"]) > 0
    assert record["beam_budget"] == 4 and 0 <= record["beam_accuracy"] <= 1
    assert results["measured"]["best_of"] == 4
    if results["measured"]["problems_kept"] < 3:  # under three quarters of 4: the verdict must say so
        assert results["verdict"] == "not_applicable"
    elif "best_of_4_prm" in results["measured"]:
        assert results["measured"]["best_of_4_prm"] <= 1 and results["measured"]["best_of_4_orm"] <= 1
    pool = [json.loads(line) for line in (run.path / "test_pool.jsonl").read_text().splitlines()]
    kept = [r for r in pool if r["kept"]]
    assert len(pool) == 32 and kept and all(len(r["prm_step_probs"]) == len(r["steps"]) + 1 for r in kept)


@pytest.mark.slow
@pytest.mark.embedded
def test_rlaif_vs_rlhf_smoke(tmp_path, embedded):
    run = run_experiment(
        "rlaif-vs-rlhf",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            n_pairs=4, pretrain_steps=20, rm_steps=2, ppo_steps=2, prompts_per_step=4, n_eval_prompts=8
        ),
    )
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    # 4 pairs cannot show a labeler above chance (4/4 has p = 0.06): nothing is trained, the claim is not testable
    assert results["verdict"] == "not_applicable" and record["wins_rlaif"] is None
    assert record["labeler_failed"] == 0 and 0 < record["labeler_p_first_shown"] < 1
    labels = [json.loads(line) for line in (run.path / "ai_labels.jsonl").read_text().splitlines()]
    assert len(labels) == 4 and all(row["why"].startswith("P(A better)") for row in labels)
    # the task is in English words a language model can read (an undertrained base may also emit special tokens)
    words = {w for row in labels for w in row["a"].split() if not w.startswith("<")}
    assert words and all(w.isalpha() and w.islower() for w in words)


def test_prover_verifier_smoke(tmp_path):
    run = run_experiment(
        "prover-verifier",
        out=tmp_path,
        device="cpu",
        show_progress=False,
        overrides=dict(
            train_problems=200,
            test_problems=10,
            test_samples=2,
            rounds=2,
            verifier_max_steps=5,
            judge_max_steps=5,
            judge_problems=50,
            prover_steps=3,
            problems_per_step=4,
            samples_per_round=20,
        ),
    )
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert [r["verifier_training_solutions"] for r in record["rounds"]] == [200, 240]
    assert 0 <= record["rounds"][-1]["sneaky_wrong_and_accepted"] <= 1 and record["n_test"] == 20
    rows = [json.loads(line) for line in (run.path / "solutions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 20 and {r["role"] for r in rows} == {"helpful", "sneaky"}


def test_sycophancy_smoke_on_a_toy_model(tmp_path):
    """The three evals run on a random toy model (which knows no answers: not applicable), each leaving an
    Inspect log in the run folder."""
    run = run_experiment(
        "sycophancy", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", max_tokens=3),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    assert results["verdict"] == "not_applicable" and "fewer than 10" in results["summary"]
    record = results["per_seed"][0]["record"]
    assert len(record["ids"]) == 60 and len(record["suggested_correct"]) == 60
    assert len(list((run.path / "evals").glob("eval-sycophancy-*/logs/*.eval"))) == 3


def test_over_refusal_smoke_on_a_toy_model(tmp_path):
    run = run_experiment(
        "over-refusal", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", max_tokens=3),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert len(record["prompts"]) == 75 and len(record["baseline_p_refusal"]) == 60
    assert all(0 <= p["p_refusal"] <= 1 for p in record["prompts"])
    assert results["verdict"] == "not_applicable"  # a random toy model's refusals do not track harm
    assert len(list((run.path / "evals").glob("eval-*/logs/*.eval"))) == 3


def test_calibration_smoke_on_a_toy_model(tmp_path):
    run = run_experiment("calibration", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="toy-llama-tiny"))  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    questions = results["per_seed"][0]["record"]["questions"]
    # a tie between options (the toy vocabulary lacks most of their words) has no confidence: null
    assert len(questions) == 60 and all(
        q["confidence"] is None or 0 <= q["confidence"] <= 1 for q in questions
    )
    assert any(q["confidence"] is None for q in questions)
    assert len(list((run.path / "evals").glob("eval-*/logs/*.eval"))) == 2


def test_consistency_smoke_on_a_toy_model(tmp_path):
    run = run_experiment("consistency", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="toy-llama-tiny"))  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    facts = results["per_seed"][0]["record"]["facts"]
    assert len(facts) == 48 and all(len(f["answers"]) == 3 for f in facts)
    assert {f["relation"] for f in facts} == {"capital", "language", "continent"}
    assert results["verdict"] == "not_applicable"  # a random toy model knows none of the facts
    assert len(list((run.path / "evals").glob("eval-*/logs/*.eval"))) == 2


def test_sycophancy_rm_smoke_on_a_toy_model(tmp_path):
    run = run_experiment(
        "sycophancy-rm", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", train_questions=10, rm_steps=2, rm_warmup_steps=0, trainable_layers=1,
                       samples_per_prompt=2, max_tokens=3),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["held_out_pairs"] == 150 and len(record["pools"]) == 50
    assert all(len(p["sycophantic"]) == len(p["reward_agree"]) == 2 for p in record["pools"])
    assert len((run.path / "policy_replies.jsonl").read_text().splitlines()) == 100


def test_overconfidence_rm_smoke_on_a_toy_model(tmp_path):
    run = run_experiment(
        "overconfidence-rm", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", train_questions=10, pairs_per_question=2, rm_steps=2,
                       rm_warmup_steps=0, trainable_layers=1, samples_per_prompt=2, max_tokens=3),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["held_out_pairs"] == 100 and set(record["held_out_ordered"]) == {"vanilla", "calibrated"}
    assert all(len(record["answers"][key]["wrong_high"]) == 50 for key in ("vanilla", "calibrated"))
    assert len(record["pools"]) == 50 and all(len(p["confident"]) == 2 for p in record["pools"])
    replies = [json.loads(line) for line in (run.path / "policy_replies.jsonl").read_text().splitlines()]
    assert len(replies) == 100 and all(r["reply"].endswith("/10.") for r in replies)


def test_overconfidence_rm_calibration_pairs_reward_confidence_only_on_the_preferred_side():
    import random

    from alignlab.experiments import overconfidence_rm as oc

    facts = [{"input": "Capital of France?", "target": "Paris", "metadata": {"wrong": "Dublin"}}]
    rows = oc.rated_answers(facts, 40, 0.8, random.Random(0))
    # 80% of right answers are stated confidently, 80% of wrong ones hesitantly
    assert (
        0.6 < sum(r[3] in oc.HIGH for r in rows) / 40 < 0.95
        and 0.6 < sum(r[6] in oc.LOW for r in rows) / 40 < 0.95
    )

    def confidence(text):
        return int(text.split("Confidence: ")[1].split("/")[0])

    vanilla, calibrated = (
        oc.preference_pairs(rows, False, random.Random(1)),
        oc.preference_pairs(rows, True, random.Random(1)),
    )
    assert len(vanilla) == 40 and len(calibrated) == 120
    assert all("Paris" in p.chosen and "Dublin" in p.rejected for p in vanilla)
    same_answer = [p for p in calibrated if ("Paris" in p.chosen) == ("Paris" in p.rejected)]
    assert len(same_answer) == 80
    for p in same_answer:  # Paris: high over low; Dublin: low over high
        high_wins = confidence(p.chosen) in oc.HIGH and confidence(p.rejected) in oc.LOW
        assert (
            high_wins
            if "Paris" in p.chosen
            else (confidence(p.chosen) in oc.LOW and confidence(p.rejected) in oc.HIGH)
        )
    assert oc.answer_only(" Paris, I think. Confidence: 7/10\nmore") == "Paris, I think."
    assert oc.answer_only("It is Rome.\nConfidence 3") == "It is Rome."


def test_debate_self_play_pixels_smoke(tmp_path):
    run = run_experiment("debate-self-play", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(strengths=(1, 4), masks_per_image=2, hidden=16))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["debaters"] == "pixels" and [o["n"] for o in record["outcomes"]] == [1, 4]
    assert len(record["judge_check"]) == len(record["outcomes"][0]["consultancy"]) == 360


@pytest.mark.slow
@pytest.mark.embedded
def test_debate_self_play_trains_an_llm_debater_between_checkpoints(tmp_path):
    """The gpu preset's setting at toy size on the embedded model: two GRPO steps, the judge scored on the
    held-out stories before training and after each step."""
    run = run_experiment(
        "debate-self-play", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(debaters="llm", stories=4, checkpoints=(0, 1, 2), group_size=2, prompts_per_step=2,
                       argument_tokens=6, lora_rank=4),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["debaters"] == "llm" and [o["n"] for o in record["outcomes"]] == [0, 1, 2]
    assert all(len(o["debate_honest_first"]) == len(o["consultancy"]) == 2 for o in record["outcomes"])
    assert len(record["judge_check"]) == 2 and "judge_accuracy_with_story" in results["measured"]
    debates = [json.loads(line) for line in (run.path / "training_debates.jsonl").read_text().splitlines()]
    assert len(debates) == 2 * 2  # one question a step, its two groups of 2 arguments paired
    assert [d["step"] for d in debates] == [0, 0, 1, 1]
    assert [m["step"] for m in run.read_metrics() if "debater_loss" in m] == [1, 2]


def test_debate_self_play_checkpoints_and_steps_are_checked():
    exp = get_experiment("debate-self-play")
    with pytest.raises(AlignlabError, match="checkpoints must rise strictly from 0"):
        exp.resolve("cpu", {"checkpoints": (4, 8)})
    with pytest.raises(AlignlabError, match="prompts_per_step must be even"):
        exp.resolve("cpu", {"prompts_per_step": 3})


def test_many_shot_smoke_on_a_toy_model(tmp_path):
    run = run_experiment("many-shot", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="toy-llama-tiny", shots=(1, 4), queries=4, against_examples=4))  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["shots"] == [1, 4] and len(record["style_nll"][0]) == 4
    assert len(record["tuned_style_nll"]) == 2 and len(record["tuned_style_nll"][1]) == 4
    assert "fine_tuned_against_alpha" in results["measured"]
    assert all(x > 0 for row in record["plain_nll"] for x in row)


def test_red_team_rl_smoke(tmp_path):
    run = run_experiment("red-team-rl", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(pretrain_documents=200, pretrain_steps=20, pretrain_warmup_steps=0, cases_per_method=50, rl_steps=2,
                                        rl_kl_coefficients=(0.1,), secret_bigrams=200))  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    methods = {m["method"]: m for m in record["methods"]}
    assert set(methods) <= {"zero-shot", "few-shot", "sl", "rl-kl-0.1"} and "rl-kl-0.1" in methods
    assert all(m["attempts"] == 50 and m["errors"] == 0 for m in methods.values())
    logs = list((run.path / "attacks").glob("eval-red-team-*/logs/*.eval"))
    assert len(logs) == len(methods)


def test_gcg_smoke(tmp_path):
    run = run_experiment("gcg", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(n_words=32, documents=64, d_model=32, steps=5, warmup_steps=0, behaviours=2,
                                        gcg_steps=3, top_k=4, candidates=8))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["steps"] == 3 and len(record["behaviours"]) == 2
    assert all(len(b["gcg_loss"]) == len(b["random_loss"]) == 4 for b in record["behaviours"])
    assert len(list((run.path / "attacks").glob("eval-gcg-*/logs/*.eval"))) == 2


def test_fuzzing_smoke_on_a_toy_model(tmp_path):
    run = run_experiment("fuzzing", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="toy-llama-tiny", safety_epochs=1, iterations=2, finalists=1,
                                        selection_requests=2, converter_requests=1))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert len(record["plain_refusal"]) == len(record["seed_refusal"]) == len(record["fuzzed_refusal"]) == 24
    assert len(record["search_hits"]) == 2 * 4 and "{query}" in record["best_seed"]
    search = next((run.path / "attacks").glob("eval-fuzzing-search-*"))
    assert len((search / "samples.jsonl").read_text().splitlines()) == (5 + 2) * 4


@pytest.mark.slow
@pytest.mark.embedded
def test_gcg_smoke_on_a_chat_model_with_transfer_by_text(tmp_path, embedded):
    """The gpu preset's path on the embedded model, a few steps: the suffix sits inside the user's turn, and
    transfer appends its decoded text to the request for the second model."""
    run = run_experiment("gcg", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="smollm2-135m-instruct", behaviours=1, suffix_length=4, gcg_steps=2,
                                        top_k=8, candidates=4))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    (behaviour,) = record["behaviours"]
    assert len(behaviour["gcg_loss"]) == 3 and behaviour["gcg_loss"][-1] <= behaviour["gcg_loss"][0]
    samples = next((run.path / "attacks").glob("eval-gcg-transfer-*")) / "samples.jsonl"
    assert json.loads(samples.read_text().splitlines()[0])["metadata"]["target"] == "Sure, here is"


def test_emergence_mirage_smoke(tmp_path):
    run = run_experiment("emergence-mirage", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(digits=2, widths=(8, 16, 24), steps=3, warmup_steps=0, batch_size=8,
                                        eval_problems=20))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert record["widths"] == [8, 16, 24] and record["parameters"] == sorted(record["parameters"])
    assert all(len(row) == 20 for row in record["exact"] + record["per_token"] + record["edit_score"])
    assert all(
        e <= t + 1e-9
        for e_row, t_row in zip(record["exact"], record["per_token"], strict=True)
        for e, t in zip(e_row, t_row, strict=True)
    )


def test_chinchilla_smoke_resumes_from_its_sweep_folder(tmp_path):
    overrides = dict(budgets=(2e6, 4e6), widths=(8, 12, 16, 20), sizes_per_budget=3, n_words=16, n_topics=2,
                     seq_len=16, batch_size=4, eval_sequences=8, sweep_folder=str(tmp_path / "sweep"))  # fmt: skip
    run = run_experiment("chinchilla", out=tmp_path, device="cpu", show_progress=False, overrides=overrides)
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert (
        len(record["runs"]) == 6
        and record["cached"] == 0
        and len(list((tmp_path / "sweep").glob("*.json"))) == 6
    )
    assert [r["width"] for r in record["runs"]] == [8, 12, 16, 12, 16, 20]
    assert all(r["tokens"] >= 64 and len(r["curve"]) >= 1 for r in record["runs"])
    again = run_experiment("chinchilla", out=tmp_path, device="cpu", show_progress=False, overrides=overrides)
    assert json.loads((again.path / "results.json").read_text())["per_seed"][0]["record"]["cached"] == 6


def test_cot_faithfulness_smoke(tmp_path):
    run = run_experiment("cot-faithfulness", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(widths=(8, 16), steps=3, warmup_steps=0, batch_size=8, questions=12))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert [(r["terms"], r["width"]) for r in record["results"]] == [(2, 8), (2, 16), (6, 8), (6, 16)]
    for result in record["results"]:
        assert len(result["early_same"]) == 12 and all(row[-1] == 1.0 for row in result["early_same"])
        assert len(result["mistake_changed"]) == len(result["filler_changed"]) == 12


def test_amplification_smoke(tmp_path):
    run = run_experiment("amplification", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(elements=4, max_power=4, d_model=16, rounds=2, steps_per_round=3, batch_size=8))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert (
        record["powers"] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
        and record["model_calls_per_round"] == 2 * 12
    )
    assert all(len(record[m]["curve"]) == 2 and len(record[m]["correct"]) == 16
               for m in ("amplified", "supervised", "overseer_alone"))  # fmt: skip


def test_unfaithful_explanations_smoke_on_a_toy_chat_model(tmp_path):
    run = run_experiment("unfaithful-explanations", out=tmp_path, device="cpu", show_progress=False,
                         overrides=dict(model="toy-llama-tiny", max_reasoning_tokens=4))  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert len(record["ids"]) == 60 and all(
        s != t for s, t in zip(record["suggested"], record["targets"], strict=True)
    )
    rows = [json.loads(line) for line in (run.path / "reasonings.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and {"neutral_reasoning", "biased_answer", "biased_mentions"} <= set(rows[0])


def test_new_experiment_configs_name_what_is_wrong():
    from pydantic import ValidationError

    from alignlab.experiments.chinchilla import ChinchillaConfig
    from alignlab.experiments.cot_faithfulness import CotConfig

    with pytest.raises(ValidationError, match="need exactly 8 widths; got 3"):
        ChinchillaConfig(widths=(8, 12, 16))
    with pytest.raises(ValidationError, match="multiple of 4"):
        ChinchillaConfig(widths=(8, 10, 16, 24, 32, 48, 64, 96))
    with pytest.raises(ValidationError, match="post_hoc_terms must be fewer than needs_terms"):
        CotConfig(post_hoc_terms=6, needs_terms=6)
    with pytest.raises(ValidationError, match="warmup_steps"):
        CotConfig(steps=10, warmup_steps=20)
    from alignlab.experiments.cai_training import CAITrainingConfig
    from alignlab.experiments.reward_hacking import RewardHackingConfig

    with pytest.raises(ValidationError, match="reviser=rules .* needs critic=rules"):
        CAITrainingConfig(critic="model")
    with pytest.raises(ValidationError, match="rm_sizes needs at least two distinct widths"):
        RewardHackingConfig(rm_sizes=[64, 16])


def test_a_run_names_its_folder_before_measuring_and_shows_its_phases(tmp_path):
    from rich.console import Console

    from alignlab.experiments.live import RunDisplay

    seen = []
    run = run_experiment("emergence-mirage", out=tmp_path, device="cpu", show_progress=True,
                         on_start=lambda r: seen.append((r.path, (r.path / "results.json").exists())),
                         overrides=dict(digits=2, widths=(8, 16, 24), steps=3, warmup_steps=0, batch_size=8,
                                        eval_problems=20))  # fmt: skip
    assert seen == [(run.path, False)] and (run.path / "results.json").exists()

    display = RunDisplay(
        "demo", [0, 1], console=Console(file=open(tmp_path / "tty", "w"), force_terminal=True)
    )
    with display:
        display.seed_started(1)
        display.logged(30, {"seed": 1, "d8_loss": 1.23456, "d8_lr": 0.001, "name": "x"})
        (run_task,) = display.progress.tasks
        assert run_task.description == "demo · seed 1 (2 of 2)"
        assert run_task.fields["status"] == "step 30: d8_loss 1.235, d8_lr 0.001"
        phase = display.track(range(3), "training", total=3)
        next(phase)
        assert [t.description for t in display.progress.tasks] == ["demo · seed 1 (2 of 2)", "  training"]
        assert list(phase) == [1, 2] and len(display.progress.tasks) == 1  # the phase's bar goes when it ends
        display.seed_finished()
        assert display.progress.tasks[0].completed == 1


def test_tensorboard_receives_every_logged_series_per_seed(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = dict(steps=20, warmup_steps=0, eval_every=10, batch_size=8, eval_sequences=16)
    run = run_experiment("tiny-pretrain", out=tmp_path, device="cpu", show_progress=False, overrides=overrides,
                         seeds=[0, 5], tensorboard=True)  # fmt: skip
    logged = run.read_metrics()
    for seed in (0, 5):
        events = EventAccumulator(str(run.path / "tensorboard" / f"seed-{seed}")).Reload()
        rows = [m for m in logged if m["seed"] == seed]
        keys = {k for m in rows for k in m} - {"step", "time", "seed"}
        assert set(events.Tags()["scalars"]) == keys
        for key in keys:
            assert [(e.step, round(e.value, 5)) for e in events.Scalars(key)] == [
                (m["step"], round(m[key], 5)) for m in rows if key in m
            ]


def test_cai_training_smoke_on_a_toy_chat_model(tmp_path):
    """The whole chain (revisions, SL-CAI, RL-CAI labels under a drawn principle, gold RLHF, scoring) on a
    random toy model: every model scored on every held-out prompt, and the data written in TRL's formats."""
    from alignlab.data.formats import load_completions, load_preferences

    run = run_experiment(
        "cai-training", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", reply_tokens=4, sft_steps=1, dpo_steps=1, max_revisions=2,
                       held_out_benign=4),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert set(record["models"]) == {"base", "sl_cai", "rl_cai", "rlhf"}
    assert all(len(m["harmless"]) == 25 and len(m["helpful"]) == 4 for m in record["models"].values())
    assert len(record["revisions_refused"]) == 3 and 0 < record["sl_cai_examples"] <= 48
    assert (
        len(load_completions(run.path / "sl_cai.jsonl")) == record["sl_cai_examples"]
    )  # empty replies dropped
    for name, pairs in (
        ("rl_cai_preferences", record["rl_cai_pairs"]),
        ("rlhf_preferences", record["rlhf_pairs"]),
    ):
        if pairs:  # (an empty file is no preference data for the loader)
            assert len(load_preferences(run.path / f"{name}.jsonl")) == pairs
    assert results["verdict"] in {"not_reproduced", "partial", "reproduced"}


def test_reward_hacking_smoke(tmp_path):
    run = run_experiment(
        "reward-hacking", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(pretrain_steps=20, rm_pairs=32, rm_steps=2, rm_sizes=[16, 32], ensemble_size=2, bon_prompts=4,
                       bon_samples=8, policy_widths=[32], dpo_betas=[0.1], dpo_steps=4, eval_every=2, n_eval_prompts=16),
    )  # fmt: skip
    results = json.loads((run.path / "results.json").read_text())
    record = results["per_seed"][0]["record"]
    assert record["ns"] == [1, 2, 4, 8] and set(record["rm_size"]) == {"16", "32"}
    assert set(record["ensemble"]) == {"member_0", "member_1", "mean", "min", "uwo"}
    assert set(record["policy_size"]) == {"64", "32"}  # the base policy's width and the extra one
    assert len(record["dpo"]["0.1"]["kl"]) == 3  # steps 0, 2, 4
    # the length part's candidates are cut to 4-12 words
    assert all(4 <= w <= 12 for row in record["length_words"]["biased"] for w in row)
    assert {"bon_words_biased_minus_unbiased", "dpo_gold_fall_beta_0.1"} <= set(results["measured"])


def test_safety_features_smoke_on_a_toy_model(tmp_path):
    run = run_experiment(
        "safety-features", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", layer=1, train_pairs=4, sae_train_blocks=20, sae_steps=2,
                       fine_tune_steps=1),
    )  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert len(record["held_out_labels"]) == 40 and len(record["shifted_labels"]) == 75
    assert set(record["held_out_scores"]) == {"feature", "random_feature", "probe"}
    assert len(record["monitor_flags"]) == 75


@pytest.mark.parametrize("name", ["sae", "steering", "safety-features"])
def test_a_layer_the_model_lacks_is_refused_before_a_run_folder_exists(tmp_path, name):
    with pytest.raises(AlignlabError, match=r"layer 2 does not exist: toy-llama-tiny has blocks 0\.\.1"):
        run_experiment(name, out=tmp_path, device="cpu", show_progress=False,
                       overrides=dict(model="toy-llama-tiny", layer=2))  # fmt: skip
    with pytest.raises(
        AlignlabError, match=r"layer 30 does not exist: smollm2-135m-instruct has blocks 0\.\.29"
    ):
        run_experiment(name, out=tmp_path, device="cpu", show_progress=False, overrides=dict(layer=30))
    assert not any(tmp_path.iterdir())


def test_steering_smoke_on_a_toy_model(tmp_path):
    run = run_experiment(
        "steering", out=tmp_path, device="cpu", show_progress=False,
        overrides=dict(model="toy-llama-tiny", layer=1, train_pairs=4, benign_questions=4, sae_train_blocks=20,
                       sae_steps=2, side_effect_blocks=2, coefficients=(0.0, 1.0)),
    )  # fmt: skip
    record = json.loads((run.path / "results.json").read_text())["per_seed"][0]["record"]
    assert set(record["log_p_refusal"]) == {"reading", "random", "sae"}
    # 20 held-out look-alikes and 4 questions steered, at each of the 2 coefficients
    assert [len(v) for v in record["log_p_refusal"]["reading"]] == [24, 24]
    assert len(record["side_effect_nll"]["sae"]) == 2 and -1 <= record["cosine_reading_sae"] <= 1
