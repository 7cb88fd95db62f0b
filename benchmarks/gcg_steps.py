"""GCG steps per second on a toy model, per candidate batch size, and the random-proposal control beside it
(the gradient is the only difference: its cost is the ratio).

    .venv/bin/python benchmarks/gcg_steps.py [--steps 20] [--batches 16,64,256] [--embedded]

A gcg-experiment-sized toy Llama (d_model 128, 2 layers, 256 words), 8-word prompt, 10-word suffix, 3-word
target; with --embedded, SmolLM2-135M (the gpu preset's model family) on the same shapes in its own tokens.
"""

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batches", default="16,64,256")
    parser.add_argument("--embedded", action="store_true")
    args = parser.parse_args()

    import torch

    from alignlab.models import ToyModelConfig, build_toy_model, load_model, word_tokenizer
    from alignlab.redteam.gcg import gcg

    torch.manual_seed(0)
    if args.embedded:
        model, tokenizer = load_model()
        name, allowed = "embedded SmolLM2-135M", list(range(1000, 20000))
    else:
        tokenizer = word_tokenizer([f"w{i}" for i in range(256)])
        model = build_toy_model(
            ToyModelConfig(d_model=128, n_layers=2, d_mlp=512, max_seq_len=64), tokenizer, seed=0
        )
        first = tokenizer.convert_tokens_to_ids("w0")
        name, allowed = "toy Llama d_model 128, 2 layers, 256 words", list(range(first, first + 256))
    model.eval().requires_grad_(False)
    prompt, suffix, target = allowed[10:18], [allowed[0]] * 10, allowed[40:43]
    print(f"\nGCG on {name}: {args.steps} steps, prompt 8, suffix 10, target 3 tokens, top-k 32")
    print(f"  {'candidates':>10}  {'gradient steps/s':>17}  {'random steps/s':>15}  {'gradient cost':>13}")
    for batch in (int(b) for b in args.batches.split(",")):
        rates = {}
        for proposal in ("gradient", "random"):
            gcg(
                model,
                prompt,
                target,
                suffix_ids=suffix,
                steps=1,
                candidates=batch,
                allowed=allowed,
                proposal=proposal,
            )
            start = time.perf_counter()
            gcg(model, prompt, target, suffix_ids=suffix, steps=args.steps, candidates=batch, allowed=allowed,
                proposal=proposal)  # fmt: skip
            rates[proposal] = args.steps / (time.perf_counter() - start)
        print(f"  {batch:>10}  {rates['gradient']:>17.1f}  {rates['random']:>15.1f}  "
              f"{rates['random'] / rates['gradient']:>12.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
