"""Batched vs sequential generation, and scoring throughput, on the CPU with the embedded model.

    .venv/bin/python benchmarks/generation_throughput.py [--model NAME] [--batch-sizes 8,16,32] [--new-tokens 32]

Prints tokens/s for each mode and its ratio to one-prompt-at-a-time generation, all measured in one run.
Every prompt generates exactly --new-tokens tokens (greedy), so the modes do identical work per token.
Target: batched generation >= 5x sequential.
"""

import argparse
import time

import torch

from alignlab.generation import HFGenerator, SamplingParams
from alignlab.models import load_model
from alignlab.scoring import encode_prompts, score_completions

PROMPTS = [
    "What is the capital of France?", "Write a haiku about autumn.", "Explain gravity to a child.",
    "Give me three tips for a job interview.", "What is 17 times 3?", "Name a famous painter.",
    "How do plants drink water?", "Suggest a name for a cat.", "What is the boiling point of water?",
    "Describe the colour blue.", "Why is the sky blue?", "What is a prime number?",
    "Write a one-line poem about the sea.", "How many legs does an insect have?", "What is DNA?",
    "Recommend a book for a long flight.",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-sizes", default="8,16,32", help="batched modes to measure (comma-separated)")
    parser.add_argument("--sequential-prompts", type=int, default=8, help="prompts generated one at a time")
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    model, tokenizer = load_model(args.model)
    prompts = (PROMPTS * (max(batch_sizes) // len(PROMPTS) + 1))[: max(batch_sizes)]
    HFGenerator(model, tokenizer, batch_size=4).generate(
        prompts[:4], SamplingParams(max_new_tokens=4)
    )  # warm-up
    # min = max new tokens: every prompt in every mode generates exactly the same number of tokens
    model.generation_config.min_new_tokens = args.new_tokens
    params = SamplingParams(max_new_tokens=args.new_tokens)

    def timed_generation(batch_size: int, n_prompts: int) -> tuple[str, int, float]:
        start = time.perf_counter()
        completions = HFGenerator(model, tokenizer, batch_size=batch_size).generate(
            prompts[:n_prompts], params
        )
        return (
            f"generate, batch {batch_size}",
            sum(len(c.tokens) for c in completions),
            time.perf_counter() - start,
        )

    rows = [timed_generation(1, args.sequential_prompts)]
    rows += [timed_generation(b, b) for b in batch_sizes]

    completions = [
        c.text for c in HFGenerator(model, tokenizer, batch_size=16).generate(prompts[:16], params)
    ]
    start = time.perf_counter()
    scored = score_completions(model, tokenizer, prompts[:16], completions, batch_size=16)
    seconds = time.perf_counter() - start
    prompt_tokens = sum(len(ids) for ids in encode_prompts(tokenizer, prompts[:16]))
    rows.append(
        ("score (one forward), batch 16", sum(len(s.token_logprobs) for s in scored) + prompt_tokens, seconds)
    )

    print(f"model {args.model}, {args.new_tokens} new tokens per prompt, {torch.get_num_threads()} threads")
    print(f"{'mode':<32}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}{'vs batch 1':>12}")
    sequential = rows[0][1] / rows[0][2]
    for name, tokens, seconds in rows:
        print(
            f"{name:<32}{tokens:>8}{seconds:>10.2f}{tokens / seconds:>10.1f}{tokens / seconds / sequential:>11.1f}x"
        )
    best = max(tokens / seconds for _, tokens, seconds in rows[1:-1]) / sequential
    print(
        f"best batched / sequential generation: {best:.1f}x (target >= 5x: {'met' if best >= 5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
