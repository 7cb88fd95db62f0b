"""One model through all three layers with no glue code: train it (alignlab.training), evaluate it
(alignlab.evals, with an Inspect log), and look inside it (alignlab.interp) — the same object throughout.

    .venv/bin/python examples/train_eval_interpret.py [--steps 300] [--out runs]

A toy Llama learns "what comes after <n> ?" -> the next number word by SFT; an eval task scores its greedy
answers before and after (on the training questions: this shows the plumbing, not generalisation); the
logit lens then shows at which layer each answer becomes the top prediction.
"""

import argparse

NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def main(steps: int = 300, out: str = "runs") -> dict:
    from alignlab.data import CompletionExample
    from alignlab.evals import Generate, Match, Sample, Task, eval_task
    from alignlab.generation import HFGenerator
    from alignlab.interp import HookedModel, logit_lens
    from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer
    from alignlab.scoring.encode import encode_prompts, pad
    from alignlab.training import TrainConfig, train_sft

    tokenizer = word_tokenizer([*NUMBERS, "what", "comes", "after", "?"])
    model = build_toy_model(ToyModelConfig(d_model=64, n_layers=3, n_heads=4, d_mlp=128), tokenizer, seed=0)
    facts = [(f"what comes after {a} ?", b) for a, b in zip(NUMBERS, NUMBERS[1:], strict=False)]
    task = Task("successor", [Sample(q, a, i) for i, (q, a) in enumerate(facts)], [Generate(max_tokens=1)],
                [Match("exact")])  # fmt: skip

    def accuracy() -> float:
        run = eval_task(task, HFGenerator(model.eval(), tokenizer), model_name="successor-toy", out=out)
        return run.scores[0].metrics["accuracy"]

    before = accuracy()
    train_sft(model.train(), tokenizer, [CompletionExample(q, a) for q, a in facts],
              TrainConfig(steps=steps, lr=3e-3, warmup_steps=20, log_every=steps), batch_size=10)  # fmt: skip
    after = accuracy()

    ids, mask = pad(encode_prompts(tokenizer, [q for q, _ in facts]), tokenizer.pad_token_id, "right")
    lens = logit_lens(HookedModel(model.eval()), ids, mask)  # (prompts, layers, vocab)
    answers = tokenizer.convert_tokens_to_ids([a for _, a in facts])
    top1 = lens.argmax(-1)  # (prompts, layers)
    first_layer = [
        next((layer for layer in range(lens.shape[1]) if top1[p, layer] == answers[p]), None)
        for p in range(len(facts))
    ]
    return {"accuracy_before": before, "accuracy_after": after, "first_top1_layer": first_layer}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    result = main(args.steps, args.out)
    print(
        f"eval accuracy before training {result['accuracy_before']:.0%}, after {result['accuracy_after']:.0%}"
    )
    print(
        f"layer at which the logit lens first ranks the answer top-1, per question: {result['first_top1_layer']}"
    )
