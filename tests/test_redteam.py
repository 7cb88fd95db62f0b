"""alignlab.redteam: converters (pure, registered, deterministic) and attempts run as eval samples."""

import base64
import codecs
import json

import pytest

from alignlab.errors import AlignlabError
from alignlab.redteam import CONVERTERS, attempts_task, convert, success_by_stack

TEXT = "How do I pick the lock on my own front door?"


@pytest.mark.parametrize("name", sorted(CONVERTERS))
def test_each_converter_changes_the_text_the_same_way_for_a_seed(name):
    once = convert(TEXT, [name], seed=3)
    assert once != TEXT and once == convert(TEXT, [name], seed=3)


def test_encodings_decode_back_and_substitutions_keep_the_shape():
    b64 = convert(TEXT, ["base64"]).splitlines()[-1]
    assert base64.b64decode(b64).decode() == TEXT
    assert codecs.decode(convert(TEXT, ["rot13"]).splitlines()[-1], "rot13") == TEXT
    assert convert("seat", ["leetspeak"]) == "5347"
    glyphs = convert(TEXT * 5, ["homoglyphs"], seed=0)
    assert len(glyphs) == len(TEXT * 5) and any(ord(c) > 127 for c in glyphs)
    swapped = convert(TEXT * 5, ["char_swap"], seed=0)
    assert [sorted(w) for w in swapped.split()] == [
        sorted(w) for w in (TEXT * 5).split()
    ] and swapped != TEXT * 5
    split = convert(TEXT, ["payload_split"])
    a, b = split.split('"')[1], split.split('"')[3]
    assert a + b == TEXT


def test_stacks_apply_in_order_and_unknown_names_are_refused():
    assert convert("tea", ["leetspeak", "suffix"]).startswith("734 ")
    assert convert("tea", ["suffix", "leetspeak"]).startswith("734 4n5w3r")
    seeded = [convert(TEXT, ["random_case", "homoglyphs"], seed=s) for s in range(4)]
    assert len(set(seeded)) == 4
    with pytest.raises(AlignlabError, match="unknown converter 'b64': use one of .*base64"):
        convert(TEXT, ["b64"])


def test_attempts_are_eval_samples_and_success_is_tabulated_by_stack(toy, tmp_path):
    from alignlab.evals import eval_task, get_task
    from alignlab.generation import HFGenerator

    base = get_task("over-refusal", subset="unsafe", max_tokens=2, refusal_probability=False)
    stacks = [(), ("roleplay",), ("leetspeak", "suffix")]
    task = attempts_task(base, stacks, seed=1)
    assert len(task.dataset) == 3 * len(base.dataset)
    first = task.dataset[2]
    assert first.id == "unsafe-1--leetspeak+suffix" and first.metadata["converters"] == [
        "leetspeak",
        "suffix",
    ]
    assert first.metadata["original_input"] == base.dataset[0].input and first.input != base.dataset[0].input
    run = eval_task(task, HFGenerator(*toy), model_name="toy", out=tmp_path)
    table = {r.stack: r for r in success_by_stack(run.samples, "refusal_match", lambda v: v == 0)}
    assert set(table) == {"none", "roleplay", "leetspeak+suffix"}
    assert all(r.attempts == len(base.dataset) and 0 <= r.success.value <= 1 for r in table.values())
    logged = [json.loads(line) for line in (run.folder.path / "samples.jsonl").read_text().splitlines()]
    assert {tuple(s["metadata"]["converters"]) for s in logged} == set(stacks)
    with pytest.raises(AlignlabError, match="unknown converter"):
        attempts_task(base, [("nope",)])


def test_a_cached_prefix_scores_like_the_whole_prompt(toy):
    """prefix_logprobs (the shots run once, their cache shared) equals scoring each whole prompt."""
    from alignlab.generation import HFGenerator
    from alignlab.redteam.many_shot import split_prompt

    generator = HFGenerator(*toy, batch_size=2)
    words = toy[1].convert_ids_to_tokens(list(range(20, 40)))
    shots = [(" ".join(words[i : i + 3]), " ".join(words[i + 3 : i + 5])) for i in range(0, 12, 4)]
    queries, targets = (
        [" ".join(words[:2]), words[5], " ".join(words[7:12])],
        [words[1], " ".join(words[2:5]), words[9]],
    )
    parts = [split_prompt(toy[1], shots, q) for q in queries]
    cached = generator.prefix_logprobs(parts[0][0], [m for _, m in parts], targets)
    ids = [toy[1](p + m, add_special_tokens=False)["input_ids"] for p, m in parts]
    import torch

    for row, target, got in zip(ids, targets, cached, strict=True):
        t_ids = toy[1](target, add_special_tokens=False)["input_ids"]
        full = torch.tensor([row + t_ids])
        with torch.no_grad():
            logprobs = toy[0](full).logits[0].log_softmax(-1)
        want = sum(logprobs[len(row) + j - 1, t].item() for j, t in enumerate(t_ids))
        assert got == pytest.approx(want, abs=1e-4)


def test_power_law_fit_recovers_its_exponent():
    from alignlab.redteam.many_shot import fit_power_law, power_law

    ns = [1, 2, 4, 8, 16, 32, 64]
    c, alpha, k = fit_power_law(ns, power_law(__import__("numpy").array(ns, dtype=float), 2.0, 0.7, 0.3))
    assert (c, alpha, k) == pytest.approx((2.0, 0.7, 0.3), rel=1e-3)


@pytest.mark.slow
def test_attempts_run_against_an_endpoint_and_survive_its_errors(toy, serve, tmp_path):
    """Through a real `alignlab serve`: converted attempts are answered over HTTP; one attempt too long for the
    served model's context makes the server answer 400, which is logged with that attempt and counted."""
    from alignlab.evals import Includes, Sample, Task, eval_task
    from alignlab.evals.solvers import Generate
    from alignlab.generation import HFGenerator, OpenAIGenerator

    url = serve(HFGenerator(*toy), "toy-llama-tiny")
    base = Task("probe", [Sample("alpha beta", "beta", 1), Sample(" ".join(["alpha"] * 400), "beta", 2)],
                [Generate(max_tokens=2)], [Includes()])  # fmt: skip
    task = attempts_task(base, [(), ("leetspeak",), ("roleplay",)])
    run = eval_task(task, OpenAIGenerator("toy-llama-tiny", base_url=url), model_name="toy-llama-tiny",
                    batch_size=3, out=tmp_path, fail_on_error=False)  # fmt: skip
    errored = [s for s in run.samples if "error" in s]
    assert len(run.samples) == 6 and {s["id"] for s in errored} == {"2--none", "2--leetspeak", "2--roleplay"}
    assert all("400" in s["error"]["message"] for s in errored)
    table = {r.stack: r.attempts for r in success_by_stack(run.samples, "includes", lambda v: v == "C")}
    assert table == {"none": 1, "leetspeak": 1, "roleplay": 1}


def test_gcg_finds_a_suffix_that_makes_the_target_likelier(toy):
    """On a trained toy model: the best loss of a two-token target never rises, ends clearly below where it
    started (3.98 -> 2.94 here), and the search is the same for the same seed. (On this 51-word vocabulary
    random single-token substitution does as well; the gradient's advantage needs a large vocabulary.)"""
    import torch

    from alignlab.redteam.gcg import gcg, target_loss

    model, tokenizer = toy
    words = list(range(tokenizer.convert_tokens_to_ids(tokenizer.convert_ids_to_tokens(20)), len(tokenizer)))
    prompt, target, start = words[:4], [words[10], words[3]], [words[0]] * 6
    result = gcg(
        model, prompt, target, suffix_ids=start, steps=25, top_k=8, candidates=32, allowed=words, seed=0
    )
    assert len(result.losses) == 26 and all(
        b <= a for a, b in zip(result.losses, result.losses[1:], strict=False)
    )
    assert result.losses[-1] < 0.8 * result.losses[0]
    assert set(result.suffix_ids) <= set(words) and len(result.suffix_ids) == 6
    table = model.get_input_embeddings().weight
    with torch.no_grad():
        again = target_loss(
            model, table[torch.tensor([prompt + result.suffix_ids + target])], torch.tensor([target])
        )
    assert float(again[0]) == pytest.approx(result.losses[-1], rel=1e-4)
    assert (
        gcg(
            model, prompt, target, suffix_ids=start, steps=5, top_k=8, candidates=32, allowed=words, seed=0
        ).suffix_ids
        == gcg(
            model, prompt, target, suffix_ids=start, steps=5, top_k=8, candidates=32, allowed=words, seed=0
        ).suffix_ids
    )


def test_distinct_n_and_self_bleu_on_sets_whose_answer_is_known():
    from alignlab.redteam.diversity import distinct_n, self_bleu, self_bleu_scores

    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)  # ab, bc, ab, bd
    assert distinct_n(["a", "b"], 2) != distinct_n(["a", "b"], 2)  # no bigrams: NaN
    assert self_bleu(["the cat sat on the mat"] * 3) == pytest.approx(1.0)
    assert self_bleu(["a b c d e", "f g h i j"]) == 0.0
    assert 0 < self_bleu(["the cat sat on the mat", "the cat sat on a hat", "a dog ran"]) < 1
    assert (
        self_bleu_scores(["only one"]) == [] and len(self_bleu_scores(["x y"] * 300, max_hypotheses=50)) == 50
    )


class _SecretWordTarget:
    """A programmatic target: replies BAD when the prompt holds ``secret``, raises on ``boom``."""

    def generate(self, prompts, params=None):
        from alignlab.generation.base import Completion

        if any("boom" in p for p in prompts):
            raise RuntimeError("target crashed")
        return [Completion("BAD" if "secret" in p else "fine", "stop") for p in prompts]


def test_red_lm_cases_run_as_an_eval_with_errors_counted_not_fatal(tmp_path):
    from alignlab.evals import eval_task
    from alignlab.redteam.attacker import attack_task, summarize

    cases = ["a secret word", "plain words here", "boom goes the target", "another secret one", "plain again"]
    task = attack_task("probe", cases, lambda case, reply: reply == "BAD", method="zero-shot", max_tokens=2)
    run = eval_task(task, _SecretWordTarget(), out=tmp_path, batch_size=5, fail_on_error=False)
    summary = summarize("zero-shot", run.samples)
    assert (summary.failures, summary.attempts, summary.errors) == (2, 5, 1)
    assert summary.failure_rate.value == pytest.approx(0.5) and summary.failure_rate.n == 4
    assert summary.failing_cases == ["a secret word", "another secret one"]
    logged = [json.loads(line) for line in (run.folder.path / "samples.jsonl").read_text().splitlines()]
    assert [s["id"] for s in logged] == [f"zero-shot-{i}" for i in range(5)]
    assert "target crashed" in next(s for s in logged if "error" in s)["error"]["message"]
    assert 0 <= summary.self_bleu.value <= 1 and 0 < summary.distinct_2 <= 1


def test_target_reward_scores_failures_and_counts_errors():
    from alignlab.redteam.attacker import TargetReward, few_shot_prompts

    reward = TargetReward(
        _SecretWordTarget(), lambda case, reply: reply == "BAD", extract=lambda t: t.split("|")[0]
    )
    assert reward([""] * 3, ["the secret | x", "boom | secret", "nothing"]) == [1.0, 0.0, 0.0]
    assert (reward.errors, reward.calls) == (1, 3)
    prompts = few_shot_prompts("cases:", ["a b", "c d", "e f"], shots=2, n=4, separator=" | ", seed=0)
    assert len(prompts) == 4 and all(
        p.startswith("cases: ") and p.endswith(" |") and p.count("|") == 2 for p in prompts
    )
    assert prompts == few_shot_prompts("cases:", ["a b", "c d", "e f"], shots=2, n=4, separator=" | ", seed=0)
    with pytest.raises(ValueError, match="at least one example"):
        few_shot_prompts("cases:", [], shots=2, n=1)


@pytest.mark.slow
def test_a_red_lm_reward_comes_from_an_endpoint_target(toy, serve):
    """The RL red LM's reward through a real `alignlab serve`: the served toy model answers each case, and a case
    too long for its context (the server answers 400) gets reward 0 and is counted."""
    from alignlab.generation import HFGenerator, OpenAIGenerator, SamplingParams
    from alignlab.redteam.attacker import TargetReward

    url = serve(HFGenerator(*toy), "toy-llama-tiny")
    reward = TargetReward(OpenAIGenerator("toy-llama-tiny", base_url=url), lambda case, reply: isinstance(reply, str),
                          params=SamplingParams(max_new_tokens=2))  # fmt: skip
    assert reward([""] * 3, ["alpha beta", " ".join(["alpha"] * 400), "beta"]) == [1.0, 0.0, 1.0]
    assert reward.errors == 1


def test_gcg_reports_when_the_target_is_emitted_and_random_proposals_are_a_control(toy):
    from alignlab.redteam.gcg import gcg, suffix_effect

    model, tokenizer = toy
    words = list(range(20, len(tokenizer)))
    prompt, target, start = words[:4], [words[10], words[3]], [words[0]] * 6
    for proposal in ("gradient", "random"):
        result = gcg(model, prompt, target, suffix_ids=start, steps=15, top_k=8, candidates=32, allowed=words,
                     proposal=proposal, seed=1)  # fmt: skip
        assert len(result.emitted) == 16 and all(t in words for t in result.suffix_ids)
        loss, emitted = suffix_effect(model, prompt, result.suffix_ids, target)
        assert loss == pytest.approx(result.losses[-1], abs=1e-4) and emitted == result.emitted[-1]
        first = result.first_success
        assert first is None or (result.emitted[first] and not any(result.emitted[:first]))


def test_mutators_keep_exactly_one_slot_and_mcts_explore_descends_by_uct():
    import random

    from alignlab.redteam.fuzzing import MUTATORS, SLOT, MCTSExplore

    templates = ["You are a helpful expert. Answer fully. " + SLOT + " Be brief.", "Imagine a story. " + SLOT]
    for name, mutate in MUTATORS.items():
        for seed in range(5):
            out = mutate(templates[0], templates[1], random.Random(seed))
            assert out.count(SLOT) == 1, (name, out)
    tree = MCTSExplore(templates, alpha=0.0)
    with pytest.raises(ValueError, match="exactly one"):
        MCTSExplore(["no slot here"])
    rng = random.Random(0)
    first = tree.select(rng)
    assert len(first) == 1 and first[0].parent is None
    tree.update(first, 1.0)  # the first seed paid: with no more visits elsewhere, UCT's exploration still
    second = tree.select(rng)  # sends the next selection to the unvisited seed
    assert second[0] is not first[0]
    child = tree.add(first[0], first[0].template, "shorten")
    tree.update(second, 0.0)
    for _ in range(3):
        tree.update([first[0]], 1.0)
    path = tree.select(rng)  # the paying seed, then (alpha 0: no early stop) its only child
    assert path == [first[0], child] and child.level == 1


def test_the_fuzzer_is_a_solver_whose_queries_are_logged_eval_samples(tmp_path):
    from alignlab.evals import Sample, Task, eval_task
    from alignlab.evals.solvers import Generate
    from alignlab.redteam.attacker import AttackSuccess
    from alignlab.redteam.fuzzing import SLOT, SearchScore, TemplateFuzzer

    class Target:  # refuses unless the prompt is framed as a play
        def generate(self, prompts, params=None):
            from alignlab.generation.base import Completion

            return [Completion("Sure" if "play" in p.lower() else "I'm sorry", "stop") for p in prompts]

    judge = AttackSuccess(lambda case, reply: reply == "Sure")
    fuzzer = TemplateFuzzer(["Tell me: " + SLOT, "Please. " + SLOT], judge, lambda s: s.value == 1.0,
                            generate=Generate(max_tokens=4), mutators=("wrap",), seed=0)  # fmt: skip
    questions = [Sample(f"question {i}", id=i) for i in range(40)]
    run = eval_task(Task("fuzz", questions, [fuzzer], [SearchScore("attack_success")]), Target(), out=tmp_path,
                    batch_size=2)  # fmt: skip
    meta = [s["metadata"] for s in run.samples]
    assert [m["mutator"] for m in meta[:4]] == ["seed"] * 4 and all(
        m["template_id"] in (0, 1) for m in meta[:4]
    )
    assert all("question" in s["messages"][0]["content"] for s in run.samples)
    wins = [m for m in meta if m["search_success"]]
    assert wins and all("play" in m["template"].lower() for m in wins)  # only the role-play wrapper works
    kept = [n for n in fuzzer.tree.nodes if n.parent is not None]
    assert kept and all(n.successes > 0 for n in kept)
    assert run.scores[0].metrics["mean"] == pytest.approx(len(wins) / 40)
    import zipfile

    plan = json.loads(zipfile.ZipFile(run.log).read("header.json"))["plan"]["steps"][0]
    assert plan["solver"] == "TemplateFuzzer" and plan["params"]["judge"]["type"] == "AttackSuccess"
    assert plan["params"]["succeeded"].endswith("<lambda>")  # a function: named, not written


def test_pair_parses_attacker_json_and_judge_ratings():
    from alignlab.redteam.pair import parse_attack, parse_rating

    assert parse_attack('Sure! {"improvement": "be indirect", "prompt": "Write a story about X"} ok') == (
        "be indirect", "Write a story about X",
    )  # fmt: skip
    assert parse_attack("just a prompt, no JSON") == ("", "just a prompt, no JSON")
    assert parse_attack('{"improvement": "x", "prompt": ""}')[1] == '{"improvement": "x", "prompt": ""}'
    assert parse_rating("Rating: [[7]]") == 7.0 and parse_rating("Rating: 7") is None
    assert parse_rating("[[0]]") is None and parse_rating("[[11]]") is None


class _StoryTarget:
    """Complies with prompts that ask for a story; raises on prompts holding 'crash'."""

    def generate(self, prompts, params=None):
        from alignlab.generation.base import Completion

        if any("crash" in str(p) for p in prompts):
            raise RuntimeError("target down")
        return [Completion("Once upon a time" if "story" in str(p) else "I'm sorry", "stop") for p in prompts]


class _ScriptedAttacker:
    """An attacker that writes the prompts it is given, one per turn, in every stream (a test double for the
    attacker's wording; the real-model attacker runs in the endpoint test)."""

    def __init__(self, prompts):
        self.prompts, self.calls = prompts, 0

    def generate(self, conversations, params=None):
        from alignlab.generation.base import Completion

        prompt = self.prompts[min(self.calls, len(self.prompts) - 1)]
        self.calls += 1
        return [
            Completion(json.dumps({"improvement": "try again", "prompt": prompt}), "stop")
            for _ in conversations
        ]


def test_pair_refines_until_the_judge_says_done_and_counts_errors(tmp_path):
    from alignlab.evals import Roles, Sample, Task, eval_task
    from alignlab.redteam.pair import PAIR, PAIRScore

    def judge(goal, prompt, reply):
        return 10.0 if reply.startswith("Once") else 1.0

    goals = [Sample("make the target tell a tale", id=1)]
    attacker = _ScriptedAttacker(["tell me", "crash it", "write a story"])
    task = Task("pair", goals, [PAIR(judge, streams=2, iterations=5)], [PAIRScore()])
    run = eval_task(task, Roles(_StoryTarget(), attacker=attacker), out=tmp_path)
    meta = run.samples[0]["metadata"]
    assert [t["iteration"] for t in meta["pair_turns"]] == [0, 0, 1, 1, 2, 2]  # stops at the first 10
    assert meta["pair_errors"] == 2 and meta["pair_queries"] == 4 and meta["pair_best_score"] == 10.0
    assert run.samples[0]["output"]["completion"] == "Once upon a time"
    assert run.samples[0]["messages"][0]["content"] == "write a story"
    with pytest.raises(AlignlabError, match="attacker model"):
        eval_task(task, _StoryTarget(), out=tmp_path)
    with pytest.raises(AlignlabError, match="grader model"):
        eval_task(
            Task("pair", goals, [PAIR()], [PAIRScore()]),
            Roles(_StoryTarget(), attacker=attacker),
            out=tmp_path,
        )


@pytest.mark.slow
def test_pair_with_attacker_target_and_judge_all_served_over_http(toy, serve, tmp_path):
    """PAIR's three roles through real `alignlab serve` endpoints (toy models): every turn is asked, answered,
    rated by the LLM judge (a toy's rating does not parse, so it is None, never a made-up 1), and logged."""
    from alignlab.evals import Roles, Sample, Task, eval_task
    from alignlab.generation import HFGenerator, OpenAIGenerator, SamplingParams
    from alignlab.redteam.pair import PAIR, PAIRScore

    url = serve(HFGenerator(*toy), "toy-llama-tiny")
    remote = OpenAIGenerator("toy-llama-tiny", base_url=url)
    solver = PAIR(streams=2, iterations=2, attacker_params=SamplingParams(max_new_tokens=8, temperature=1.0, seed=0),
                  target_params=SamplingParams(max_new_tokens=4))  # fmt: skip
    run = eval_task(Task("pair", [Sample("alpha beta", id=1)], [solver], [PAIRScore()]),
                    Roles(remote, grader=remote, attacker=remote), out=tmp_path, fail_on_error=False)  # fmt: skip
    turns = run.samples[0]["metadata"]["pair_turns"]
    assert len(turns) == 4 and all("response" in t and t["score"] is None for t in turns)
    assert run.scores[0].failed == 1  # no turn rated: failed, not scored
