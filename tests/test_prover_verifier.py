import pytest
import torch

from alignlab.data.arithmetic_chains import ArithmeticChainTask, ChainProblem
from alignlab.oversight.prover_verifier import (
    ProverConfig,
    ProverPolicy,
    VerifierConfig,
    cgc_reward,
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
    assert cgc_reward(scores, correct, "sneaky").tolist() == [-2.0, 0.0, -2.0, -2.0, 1.0, -2.0]


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


def test_verifier_learns_to_catch_flaws_and_a_prover_learns_from_rewards():
    task = ArithmeticChainTask(3, 4, ("+", "-"))
    test = task.problems(200, seed=0)
    train = task.problems(3000, seed=1, exclude=test)
    base = ProverPolicy(base_flaw=0.15, base_merge=0.0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        train_solutions, _ = sample_solutions(base, train, generator)
        test_solutions, _ = sample_solutions(base, test * 2, generator)
    verifier = train_step_verifier(train_solutions, VerifierConfig(hidden=64, steps=800), seed=0)
    accepted = verifier_scores(verifier, test_solutions) > 0
    correct = torch.tensor([s.correct for s in test_solutions])
    balanced_accuracy = (accepted[correct].float().mean() + (~accepted[~correct]).float().mean()) / 2
    assert balanced_accuracy > 0.65  # chance is 0.5; measured 0.70–0.72 over two seeds

    prover = ProverPolicy(base_flaw=0.15, base_merge=0.0)
    history = train_prover(prover, train, None, None, ProverConfig(steps=30, lr=1e-2), seed=0)
    first, last = history[0]["correct"], sum(h["correct"] for h in history[-5:]) / 5
    assert last > first + 0.1  # rewarded for right answers, it stops slipping
