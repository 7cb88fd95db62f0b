"""Eval throughput, batched vs one sample at a time, side by side in one run (target: batched >= 5x).

    .venv/bin/python benchmarks/eval_throughput.py [--samples 200] [--max-tokens 16] [--batch 32]

1. A multiple-choice eval (capability-mcq, letter log-probabilities: one forward pass per batch).
2. A generation eval (over-refusal prompts, greedy, --max-tokens new tokens each).
Both on the embedded model, the built-in samples repeated to --samples; the same eval_task call with
--batch samples per batch vs one. Prints samples/s and the ratio.
"""

import argparse
import dataclasses
import tempfile
import time


def repeated(task, n: int):
    """The task's samples cycled to n, each copy with its own id."""
    base = list(task.dataset)
    samples = [
        dataclasses.replace(base[i % len(base)], id=f"{base[i % len(base)].id}-{i // len(base)}")
        for i in range(n)
    ]
    return dataclasses.replace(task, dataset=samples)


def samples_per_second(task, model, tokenizer, batch: int) -> float:
    from alignlab.evals import eval_task
    from alignlab.generation import HFGenerator

    generator = HFGenerator(model, tokenizer, batch_size=batch)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        eval_task(task, generator, model_name="smollm2-135m-instruct", batch_size=batch, out=out)
        return len(task.dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    from alignlab.evals import get_task
    from alignlab.models import load_model

    model, tokenizer = load_model()
    evals = {
        "multiple choice (letter log-probs)": repeated(get_task("capability-mcq"), args.samples),
        f"generation ({args.max_tokens} new tokens)": repeated(
            get_task("over-refusal", max_tokens=args.max_tokens), args.samples
        ),
    }
    for name, task in evals.items():
        one = samples_per_second(task, model, tokenizer, 1)
        batched = samples_per_second(task, model, tokenizer, args.batch)
        print(f"\n{name}, {args.samples} samples, embedded SmolLM2-135M")
        print(f"  one sample at a time        {one:8.2f} samples/s    1.00x")
        print(
            f"  batches of {args.batch:<4}             {batched:8.2f} samples/s    {batched / one:.2f}x (target >= 5x)"
        )


if __name__ == "__main__":
    main()
