"""The training loop's model FLOP utilisation on this CPU: achieved FLOP/s training a toy Llama through
``alignlab.training.train``, against this machine's own matmul peak, measured first in the same run.

    .venv/bin/python benchmarks/cpu_mfu.py [--d-model 512] [--layers 4] [--batch 16] [--seq 128] [--steps 20]

Peak: the best of several square fp32 matmuls (2 n^3 FLOPs each) with torch's threads. Training FLOPs per
token: 6 N (forward and backward over the N non-embedding-lookup parameters, the output head included) plus
attention's 6 * 2 * layers * seq * d_model (scores and the weighted sum, forward and backward; half of it under
the causal mask is still computed by the kernel), as in Kaplan et al. 2020 and PaLM's MFU.
"""

import argparse
import time

import torch

from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer
from alignlab.training import RunOptions, TrainConfig, causal_lm_step, train


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    peak = matmul_peak()
    tokenizer = word_tokenizer([f"w{i}" for i in range(2000)])
    config = ToyModelConfig(d_model=args.d_model, n_layers=args.layers, n_heads=8, d_mlp=4 * args.d_model,
                            max_seq_len=args.seq)  # fmt: skip
    model = build_toy_model(config, tokenizer)
    embedding = model.get_input_embeddings().weight.numel()
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    n = sum(p.numel() for p in model.parameters()) - (0 if tied else embedding)  # the head's matmul counts
    flops_per_token = 6 * n + 12 * args.layers * args.seq * args.d_model
    ids = torch.randint(len(tokenizer) - 2000, len(tokenizer), (args.steps + 2, args.batch, args.seq))
    step_ends: list[float] = []
    train(
        model, causal_lm_step, ({"input_ids": b} for b in ids),
        TrainConfig(steps=args.steps + 2, lr=1e-4, log_every=1),
        options=RunOptions(on_log=lambda step, record: step_ends.append(time.perf_counter())),
    )  # fmt: skip
    seconds = (step_ends[-1] - step_ends[1]) / args.steps  # after two warm-up steps
    achieved = flops_per_token * args.batch * args.seq / seconds
    print(f"{torch.get_num_threads()} threads; matmul peak (fp32, 2048^2) {peak / 1e9:.1f} GFLOP/s")
    print(f"toy Llama d_model {args.d_model}, {args.layers} layers, {n / 1e6:.2f}M parameters (the head included), "
          f"batch {args.batch} x {args.seq} tokens: {seconds:.3f} s/step, "
          f"{args.batch * args.seq / seconds:.0f} tokens/s")  # fmt: skip
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s = MFU {achieved / peak:.1%} of the measured matmul peak")


if __name__ == "__main__":
    main()
