"""Many-shot scoring with the shots' key/value cache computed once vs each whole prompt recomputed, side by
side in one run (target: cached >= 5x at 32 shots).

    .venv/bin/python benchmarks/many_shot_cache.py [--shots 32] [--queries 24]

The embedded model; the many-shot experiment's pirate-style shots and held-out questions. Also prints the
largest difference between the two ways of scoring (they must agree).
"""

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=32)
    parser.add_argument("--queries", type=int, default=24)
    args = parser.parse_args()

    from alignlab.generation import HFGenerator
    from alignlab.models import load_model
    from alignlab.redteam.many_shot import PIRATE, question_answers, split_prompt
    from alignlab.scoring import score_completions

    model, tokenizer = load_model()
    generator = HFGenerator(model, tokenizer, batch_size=8)
    pairs = question_answers()
    shots = [(q, PIRATE.format(sentence=a)) for q, a in pairs[: args.shots]]
    held_out = pairs[args.shots : args.shots + args.queries]
    parts = [split_prompt(tokenizer, shots, q) for q, _ in held_out]
    targets = [PIRATE.format(sentence=a) for _, a in held_out]

    start = time.perf_counter()
    cached = generator.prefix_logprobs(parts[0][0], [m for _, m in parts], targets)
    cached_s = time.perf_counter() - start
    start = time.perf_counter()
    whole = score_completions(model, tokenizer, [p + m for p, m in parts], targets, batch_size=8, chat=False)
    whole_s = time.perf_counter() - start
    difference = max(abs(a - b.total) for a, b in zip(cached, whole, strict=True))
    prefix_tokens = len(tokenizer(parts[0][0], add_special_tokens=False)["input_ids"])
    print(
        f"\n{args.shots} shots ({prefix_tokens} prefix tokens), {args.queries} questions, embedded SmolLM2-135M"
    )
    print(f"  each whole prompt recomputed    {whole_s:7.2f} s    1.00x")
    print(f"  shots' cache computed once      {cached_s:7.2f} s    {whole_s / cached_s:.2f}x (target >= 5x)")
    print(f"  largest log-probability difference between the two: {difference:.2e}")


if __name__ == "__main__":
    main()
