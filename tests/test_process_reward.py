"""Process supervision: step labels from the arithmetic grader, the stepwise batch a verifier trains on, a
verifier that learns a step property, and the exact best-of-N / pass@N formulas against enumeration."""

import itertools
import json
import random
from statistics import mean

import pytest

from alignlab.data.arithmetic_chains import ArithmeticChainTask, ChainProblem, grade, split_steps, step_result
from alignlab.data.formats import StepwiseExample, load_stepwise
from alignlab.errors import AlignlabError
from alignlab.generation.base import Completion
from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer
from alignlab.oversight.process_supervision import (
    BeamConfig,
    best_of_n,
    majority_vote,
    pass_at_n,
    step_beam_search,
)
from alignlab.training import TrainConfig
from alignlab.training.process_reward import (
    IGNORE,
    orm_score,
    prm_score,
    step_probabilities,
    stepwise_batch,
    train_verifier,
    verifier_from,
)

PROBLEM = ChainProblem(59, (("+", 2), ("*", 3), ("-", 7)))  # 59 + 2 = 61, 61 * 3 = 183, 183 - 7 = 176


def test_gold_solution_and_grading():
    assert PROBLEM.prompt == "5 9 + 2 * 3 - 7 ="
    assert PROBLEM.gold_solution == "5 9 + 2 = 6 1 ; 6 1 * 3 = 1 8 3 ; 1 8 3 - 7 = 1 7 6 ;"
    gold = split_steps(PROBLEM.gold_solution)
    assert grade(PROBLEM, gold).process_correct and step_result(gold[-1]) == 176

    # a slip in step 2 that step 3 cancels: the right answer through a wrong step
    cancelled = [gold[0], "6 1 * 3 = 1 8 4", "1 8 4 - 8 = 1 7 6"]
    g = grade(PROBLEM, cancelled)
    assert g.final_correct and not g.process_correct
    assert g.step_correct == [True, False, False] and g.prm_labels == [True, False]

    early = grade(PROBLEM, gold[:2])  # stops with every step right but no answer
    assert early.step_correct == [True, False] and not early.final_correct
    extra = grade(PROBLEM, [*gold, "1 7 6 + 1 = 1 7 7"])
    assert extra.step_correct == [True, True, True, False] and not extra.final_correct
    assert grade(PROBLEM, []).step_correct == [] and not grade(PROBLEM, []).final_correct
    assert step_result("6 1 * = 9") is None


def test_task_problems_are_distinct_in_range_and_exclusive():
    task = ArithmeticChainTask(min_steps=2, max_steps=4, operations=("+", "-", "*"))
    test = task.problems(50, seed=0)
    train = task.problems(200, seed=1, exclude=test)
    assert len(set(test)) == 50 and not set(test) & set(train)
    for p in test + train:
        assert 2 <= len(p.operations) <= 4 and all(0 <= v <= 99 for v in p.values)
    with pytest.raises(ValueError, match="operations"):
        ArithmeticChainTask(operations=("+", "*"))


def test_best_of_n_and_pass_at_n_match_enumeration():
    rng = random.Random(0)
    scores = [rng.random() for _ in range(7)]
    correct = [rng.random() < 0.4 for _ in range(7)]
    for n in range(1, 8):
        subsets = list(itertools.combinations(range(7), n))
        picked = [correct[max(s, key=lambda i: scores[i])] for s in subsets]
        assert best_of_n(scores, correct, n) == pytest.approx(mean(picked))
        assert pass_at_n(correct, n) == pytest.approx(mean(any(correct[i] for i in s) for s in subsets))
    assert majority_vote([3, 3, 3, 5, None], 3, 5) == 1.0 and majority_vote([None] * 3, 3, 2) == 0.0
    with pytest.raises(ValueError, match="pool size"):
        best_of_n(scores, correct, 8)


def test_stepwise_batch_labels_the_last_token_of_each_step():
    tokenizer = word_tokenizer(ArithmeticChainTask().words)
    steps = split_steps(PROBLEM.gold_solution)
    batch = stepwise_batch(
        tokenizer, [PROBLEM.prompt], [steps], [[True, False, True]], separator=" ;", chat=False
    )
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    ends = batch["step_ends"][0].nonzero().flatten().tolist()
    assert [tokens[i] for i in ends] == [";"] * 3
    assert batch["labels"][0, ends].tolist() == [1, 0, 1]
    assert (batch["labels"][0] != IGNORE).sum() == 3
    with pytest.raises(AlignlabError, match="solution 5: 3 steps but 2 labels"):
        stepwise_batch(tokenizer, [PROBLEM.prompt], [steps], [[True, True]], separator=" ;", first_number=5)


def test_load_stepwise_names_row_and_field(tmp_path):
    path = tmp_path / "steps.jsonl"
    good = {"prompt": "1 + 1 =", "completions": ["1 + 1 = 2"], "labels": [True]}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "labels": [True, False]}) + "\n")
    with pytest.raises(AlignlabError, match=r"steps.jsonl, row 2: 1 completions \(steps\) but 2 labels"):
        load_stepwise(path)
    path.write_text(json.dumps({**good, "labels": ["yes"]}) + "\n")
    with pytest.raises(AlignlabError, match="row 1: field 'labels' must be a list of true/false"):
        load_stepwise(path)
    assert load_stepwise([good]) == [StepwiseExample("1 + 1 =", ("1 + 1 = 2",), (True,))]


@pytest.mark.slow
def test_verifier_learns_a_step_property_and_scores_aggregate():
    """A PRM trained to flag multiplication steps: its step probabilities separate them on new problems."""
    task = ArithmeticChainTask(operations=("+", "-", "*"))
    tokenizer = word_tokenizer(task.words)
    model = build_toy_model(ToyModelConfig(max_seq_len=64), tokenizer, seed=0)
    verifier = verifier_from(model)
    examples = [
        StepwiseExample(p.prompt, tuple(p.gold_steps), tuple("*" not in s for s in p.gold_steps))
        for p in task.problems(256, seed=0)
    ]
    train_verifier(
        verifier,
        tokenizer,
        examples,
        TrainConfig(steps=120, lr=3e-3, schedule="constant", log_every=120),
        batch_size=32,
        separator=" ;",
        chat=False,
    )
    test = task.problems(20, seed=1)
    probs = step_probabilities(
        verifier,
        tokenizer,
        [p.prompt for p in test],
        [p.gold_steps for p in test],
        separator=" ;",
        chat=False,
    )
    flagged = [
        q
        for p, qs in zip(test, probs, strict=True)
        for s, q in zip(p.gold_steps, qs, strict=True)
        if "*" in s
    ]
    plain = [
        q
        for p, qs in zip(test, probs, strict=True)
        for s, q in zip(p.gold_steps, qs, strict=True)
        if "*" not in s
    ]
    assert max(flagged) < 0.5 < min(plain)
    assert prm_score([0.5, 0.5, 0.8]) == pytest.approx(0.2) and orm_score([0.5, 0.5, 0.8]) == 0.8
    assert prm_score([]) == orm_score([]) == 0.0
    assert step_probabilities(verifier, tokenizer, ["1 2 + 3 ="], [[]], separator=" ;", chat=False) == [[]]


class RandomDigitSteps:
    """A seeded generator that writes one random digit per step and stops after three steps."""

    def generate(self, prompts, params):
        rng = random.Random(params.seed)
        out = []
        for prompt in prompts:
            done = prompt.count(";") >= 3
            out.append(Completion("" if done else str(rng.randrange(10)), "stop"))
        return out


def test_beam_search_keeps_the_best_scored_prefixes():
    def digit_sum(prompts, partial, ended):
        assert len(ended) == len(partial)
        return [sum(int(s) for s in steps) for steps in partial]

    config = BeamConfig(beam_width=4, expansions=8, max_steps=5)
    found = step_beam_search(RandomDigitSteps(), digit_sum, ["a", "b"], config, separator=" ;", seed=0)
    assert all(len(steps) == 3 for steps in found)
    # 32 draws per step: a 9 is almost surely among them, and the beam keeps it
    assert all(sum(map(int, steps)) >= 25 for steps in found)
