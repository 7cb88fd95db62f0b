"""Self-play training of an LLM debater against an LLM judge that cannot see the story (Khan et al. 2024).

    .venv/bin/python examples/llm_debate_self_play.py                       # the embedded model, a few CPU steps
    python examples/llm_debate_self_play.py --model HuggingFaceTB/SmolLM2-1.7B-Instruct --steps 200 --device cuda

The policy (a LoRA adapter) argues both sides of questions about fictional stories; a frozen copy of the model
judges without the story; the judge's probability of a side is that side's reward (`train_debater`). Before and
after training, on held-out stories, it prints the judge's accuracy in debate (both sides argued by the policy)
and in consultancy (one argument, for the correct answer on half the questions), as Khan et al. compare them.
"""

import argparse
import copy

from alignlab.data.stories import fictional_stories
from alignlab.generation import HFGenerator
from alignlab.models import add_lora, load_model
from alignlab.oversight import DebateQuestion, LLMJudge, judge_outcomes, story_questions, train_debater
from alignlab.training import RunOptions, TrainConfig
from alignlab.training.grpo import GRPOConfig


def judge_accuracy(policy, tokenizer, judge: LLMJudge, questions: list[DebateQuestion], tokens: int) -> dict:
    """Share of questions the judge gets right after debate (both speaking orders) and after consultancy (the
    consultant argues for the correct answer on even questions, the other one on odd questions)."""
    outcomes = judge_outcomes(policy, tokenizer, judge, questions, [i % 2 == 0 for i in range(len(questions))],
                              max_new_tokens=tokens)  # fmt: skip
    debate = outcomes.debate_honest_first + outcomes.debate_honest_second
    return {"debate": sum(debate) / len(debate), "consultancy": sum(outcomes.consultancy) / len(questions)}


def main(
    model_name: str = "smollm2-135m-instruct",
    *,
    device: str = "cpu",
    n_questions: int = 24,
    steps: int = 4,
    argument_tokens: int = 32,
    seed: int = 0,
) -> dict:
    model, tokenizer = load_model(model_name, device=device)
    judge = LLMJudge(HFGenerator(copy.deepcopy(model).eval(), tokenizer))
    questions = story_questions(fictional_stories(n_questions, seed=seed))
    train, held_out = questions[: len(questions) // 2], questions[len(questions) // 2 :]
    policy = add_lora(model, r=16)
    before = judge_accuracy(policy, tokenizer, judge, held_out, argument_tokens)
    print("before:", before)
    _, episodes = train_debater(
        policy, tokenizer, train, judge,
        GRPOConfig(group_size=4, prompts_per_step=4, max_new_tokens=argument_tokens, beta=0.04),
        TrainConfig(steps=steps, lr=1e-4, log_every=1, schedule="constant"),
        options=RunOptions(seed=seed, device=device),
    )  # fmt: skip
    decided = sum(e.p_option0 is not None for e in episodes)
    print(f"{len(episodes)} judged debates in training; the judge answered {decided}")
    after = judge_accuracy(policy, tokenizer, judge, held_out, argument_tokens)
    print("after:", after)
    return {"before": before, "after": after, "episodes": len(episodes), "decided": decided}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--questions", type=int, default=24, help="stories; half train, half held out")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--argument-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.model, device=args.device, n_questions=args.questions, steps=args.steps,
         argument_tokens=args.argument_tokens, seed=args.seed)  # fmt: skip
