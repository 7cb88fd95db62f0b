import math

import pytest
import torch

from alignlab.data.arithmetic_chains import ArithmeticChainTask, ChainProblem
from alignlab.oversight.prover_verifier import (
    UNREADABLE_LOG_ODDS,
    ProverConfig,
    ProverPolicy,
    VerifierConfig,
    cgc_reward,
    lm_prover_reward,
    parse_solution,
    sample_solutions,
    src_reward,
    train_prover,
    train_step_verifier,
    verifier_scores,
    write_solution,
)

PROBLEM = ChainProblem(74, (("+", 8), ("-", 5), ("+", 3)))  # 82, 77, 80


def test_write_solution_follows_flaws_and_merges():
    clean = write_solution(PROBLEM, ["none"] * 3, [False] * 3, [0] * 3)
    assert clean.correct and clean.text == "7 4 + 8 = 8 2 ; 8 2 - 5 = 7 7 ; 7 7 + 3 = 8 0 ;"

    slipped = write_solution(PROBLEM, ["none", "slip_ones", "none"], [False] * 3, [0, -1, 0])
    assert [s.result for s in slipped.steps] == [82, 76, 79] and not slipped.correct
    assert slipped.steps[2].start == 76  # later steps build on the written value

    miscopied = write_solution(PROBLEM, ["miscopy", "none", "none"], [False] * 3, [1, 0, 0])
    assert miscopied.steps[0].text == "7 4 + 9 = 8 3" and miscopied.steps[-1].result == 81

    merged = write_solution(PROBLEM, ["none", "slip_tens", "none"], [True, False, False], [0, 1, 0])
    assert merged.text == "7 4 + 8 - 5 = 8 7 ; 8 7 + 3 = 9 0 ;"
    assert merged.steps[0].covers == (0, 1) and merged.merged_share == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one flaw, merge and sign per operation"):
        write_solution(PROBLEM, ["none"], [False], [0])


def test_src_and_cgc_rewards():
    scores = torch.tensor([2.0, 0.0, -2.0, 1.0, 1.0, 1.0])  # two problems, groups of 3
    correct = torch.tensor([True, False, True, True, False, True])
    helpful = src_reward(scores, correct, "helpful", group_size=3)
    sneaky = src_reward(scores, correct, "sneaky", group_size=3)
    # centred scores: [2, 0, -2], [0, 0, 0]; above the group mean: + V' if the role is met, else − V'
    assert helpful.tolist() == [2.0, -1.0, -1.0, -1.0, -1.0, -1.0]
    assert sneaky.tolist() == [-2.0, -1.0, -1.0, -1.0, -1.0, -1.0]
    expected = [-1.0, 0.5, -1.0, -1.0, torch.sigmoid(torch.tensor(1.0)).item(), -1.0]
    assert cgc_reward(scores, correct, "sneaky").tolist() == pytest.approx(expected)


def test_base_prover_samples_its_rates_and_respects_the_step_rules():
    task = ArithmeticChainTask(3, 4, ("+", "-"))
    problems = task.problems(500, seed=0)
    policy = ProverPolicy(base_flaw=0.2, base_merge=0.4)
    with torch.no_grad():
        solutions, log_prob = sample_solutions(policy, problems * 4, torch.Generator().manual_seed(0))
    flaws = [f for s in solutions for f in s.flaws]
    assert sum(f != "none" for f in flaws) / len(flaws) == pytest.approx(0.2, abs=0.02)
    for s in solutions:
        assert all(len(step.covers) <= 2 for step in s.steps)
        assert [i for step in s.steps for i in step.covers] == list(range(len(s.problem.operations)))
        assert all(1 <= b <= 9 for step in s.steps for _, b in step.operations)
    assert log_prob.shape == (2000,) and (log_prob < 0).all()
    with pytest.raises(ValueError, match="only \\+ and -"):
        sample_solutions(policy, [ChainProblem(12, (("*", 3),))], torch.Generator())


@pytest.mark.slow
def test_verifier_learns_to_catch_flaws_and_a_prover_learns_from_rewards():
    task = ArithmeticChainTask(3, 4, ("+", "-"))
    test = task.problems(200, seed=0)
    train = task.problems(3000, seed=1, exclude=test)
    base = ProverPolicy(base_flaw=0.15, base_merge=0.0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        train_solutions, _ = sample_solutions(base, train, generator)
        test_solutions, _ = sample_solutions(base, test * 2, generator)
    verifier = train_step_verifier(train_solutions, VerifierConfig(hidden=64, max_steps=1500), seed=0)
    accepted = verifier_scores(verifier, test_solutions) > 0
    correct = torch.tensor([s.correct for s in test_solutions])
    balanced_accuracy = (accepted[correct].float().mean() + (~accepted[~correct]).float().mean()) / 2
    assert balanced_accuracy > 0.65  # chance is 0.5; measured 0.70 (seed 0)

    prover = ProverPolicy(base_flaw=0.15, base_merge=0.0)
    history = train_prover(prover, train, None, None, ProverConfig(steps=30, lr=1e-2), seed=0)
    first, last = history[0]["correct"], sum(h["correct"] for h in history[-5:]) / 5
    assert last > first + 0.1  # rewarded for right answers, it stops slipping


def test_written_solutions_parse_back_and_malformed_ones_do_not():
    task = ArithmeticChainTask(3, 4, ("+", "-"))
    policy = ProverPolicy(base_flaw=0.3, base_merge=0.4)
    with torch.no_grad():
        solutions, _ = sample_solutions(policy, task.problems(200, seed=3), torch.Generator().manual_seed(1))
    for s in solutions:
        parsed = parse_solution(s.problem, s.text)
        assert parsed is not None and parsed.steps == s.steps and parsed.correct == s.correct
    assert parse_solution(PROBLEM, "7 4 + 8 = 8 2 ; 8 2 - 5 = 7 7 ;") is None  # stops early
    assert parse_solution(PROBLEM, "7 4 + 8 - 5 + 3 = 8 0 ;") is None  # three operations in one step
    assert parse_solution(PROBLEM, "7 4 + 8 = ; 8 2 - 5 = 7 7 ; 7 7 + 3 = 8 0 ;") is None
    assert (
        parse_solution(PROBLEM, "7 4 + 8 = neg 8 ; neg 8 - 5 = neg 1 3 ; neg 1 3 + 3 = neg 1 0")
        .steps[-1]
        .result
        == -10
    )


def test_an_lm_prover_plays_against_the_verifier_through_grpo():
    from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer
    from alignlab.training import RunOptions, TrainConfig
    from alignlab.training.grpo import GRPOConfig, train_grpo

    task = ArithmeticChainTask(3, 3, ("+", "-"))
    problems = task.problems(200, seed=0)
    with torch.no_grad():
        solutions, _ = sample_solutions(ProverPolicy(0.2, 0.3), problems, torch.Generator().manual_seed(0))
    verifier = train_step_verifier(solutions, VerifierConfig(hidden=32, max_steps=50), seed=0)
    by_prompt = {p.prompt: p for p in problems}
    config = ProverConfig(group_size=4)
    reward = lm_prover_reward(verifier, by_prompt, "sneaky", config)

    clean, wrong = PROBLEM.gold_solution, "7 4 + 8 = 8 3 ; 8 3 - 5 = 7 8 ; 7 8 + 3 = 8 1 ;"
    rewards = lm_prover_reward(verifier, {PROBLEM.prompt: PROBLEM}, "helpful", config)(
        [PROBLEM.prompt] * 4, [clean, wrong, "7 4 +", wrong]
    )
    scores = verifier_scores(verifier, [parse_solution(PROBLEM, t) for t in (clean, wrong, wrong)]).tolist()
    mean = (scores[0] + scores[1] + UNREADABLE_LOG_ODDS + scores[2]) / 4
    assert rewards[2] == -1.0  # unreadable: far below the group mean
    assert rewards[0] == pytest.approx(scores[0] - mean if scores[0] > mean else -1.0, abs=1e-5)

    tokenizer = word_tokenizer([*task.words, "neg"])
    model = build_toy_model(ToyModelConfig(d_model=32, n_layers=1, d_mlp=64), tokenizer, seed=0)
    history = train_grpo(
        model,
        tokenizer,
        [p.prompt for p in problems[:8]],
        [reward],
        GRPOConfig(group_size=4, prompts_per_step=2, max_new_tokens=24, beta=0.0),
        TrainConfig(steps=2, lr=1e-3, log_every=1),
        chat=False,
        options=RunOptions(seed=0),
    )
    assert len(history) == 2 and all(math.isfinite(h["reward"]) for h in history)
