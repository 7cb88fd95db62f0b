"""SAE training and activation-caching throughput, side by side in one run.

    .venv/bin/python benchmarks/sae_training.py [--steps 30] [--d-sae-multiple 8] [--k 32]

1. SAE training tokens/s on the same cached activations (d_in 576 from the embedded model), same width and k:
   alignlab's ``train_sae`` (TopK with AuxK and a unit-norm decoder, on the shared training loop, setup
   included) vs SAELens's TopKTrainingSAE (if the `bench` extra is installed) vs a plain PyTorch loop (encode,
   top-k, decode, MSE, Adam — no AuxK, no decoder renormalisation).
2. Activation caching tokens/s at blocks.12.hook_resid_post: HookedModel.run_with_cache with early stop vs
   a full forward with output_hidden_states=True.
Ratios are printed relative to the baseline of each table.
"""

import argparse
import time

import torch


def tokens_per_second(step, tokens_per_step: int, steps: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return tokens_per_step * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--d-sae-multiple", type=int, default=8)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=48)
    args = parser.parse_args()

    from alignlab.data.corpus import docstring_corpus, token_blocks
    from alignlab.interp import HookedModel
    from alignlab.interp.sae import ActivationStore, sae_config, train_sae
    from alignlab.models import load_model

    torch.manual_seed(0)
    model, tokenizer = load_model("smollm2-135m-instruct")
    hooked = HookedModel(model)
    site, layer = "blocks.12.hook_resid_post", 12
    blocks = token_blocks(tokenizer, docstring_corpus(), 64, max_blocks=args.blocks)

    # --- activation caching
    def ours_cache() -> None:
        ActivationStore.from_model(hooked, site, blocks, batch_size=16)

    @torch.no_grad()
    def full_forward() -> None:
        for chunk in blocks.split(16):
            model(input_ids=chunk, output_hidden_states=True).hidden_states[layer + 1][:, 1:].flatten(0, 1)

    n_tokens = blocks.numel() - len(blocks)
    caching = {
        "full forward, output_hidden_states": tokens_per_second(full_forward, n_tokens, 2),
        "HookedModel cache, early stop": tokens_per_second(ours_cache, n_tokens, 2),
    }

    # --- SAE training on the same activations
    store = ActivationStore.from_model(hooked, site, blocks, batch_size=16)
    d_in, d_sae = store.d_in, store.d_in * args.d_sae_multiple
    scale = store.normalization_scale()
    batches = store.batches(args.batch)

    def next_batch() -> torch.Tensor:
        return next(batches) * scale

    W_enc = torch.nn.Parameter(torch.randn(d_in, d_sae) / d_in**0.5)
    W_dec = torch.nn.Parameter(W_enc.detach().T.clone())
    b_enc, b_dec = torch.nn.Parameter(torch.zeros(d_sae)), torch.nn.Parameter(torch.zeros(d_in))
    plain_opt = torch.optim.Adam([W_enc, W_dec, b_enc, b_dec], lr=3e-4)

    def plain_step() -> None:
        x = next_batch()
        pre = (x - b_dec) @ W_enc + b_enc
        values, indices = pre.topk(args.k, dim=-1)
        codes = torch.zeros_like(pre).scatter(-1, indices, values.relu())
        loss = (codes @ W_dec + b_dec - x).pow(2).sum(-1).mean()
        loss.backward()
        plain_opt.step()
        plain_opt.zero_grad(set_to_none=True)

    training = {"plain PyTorch TopK loop": tokens_per_second(plain_step, args.batch, args.steps)}
    try:
        from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.saes.sae import TrainStepInput

        theirs = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=d_sae, k=args.k))
        dead = torch.zeros(d_sae, dtype=torch.bool)
        dead[: d_sae // 10] = True  # AuxK does real work, as it would mid-training
        theirs_opt = torch.optim.Adam(theirs.parameters(), lr=3e-4)

        def saelens_step() -> None:
            step_input = TrainStepInput(next_batch(), {}, dead, n_training_steps=0, is_logging_step=False)
            out = theirs.training_forward_pass(step_input)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
            theirs_opt.step()
            theirs_opt.zero_grad(set_to_none=True)

        training["SAELens TopKTrainingSAE"] = tokens_per_second(saelens_step, args.batch, args.steps)
    except ImportError:
        print("SAELens is not installed (pip install -e '.[bench]'); comparing with plain PyTorch only")
    config = sae_config(
        "topk", d_in=d_in, expansion=args.d_sae_multiple, k=args.k, steps=args.steps, batch_size=args.batch,
        dead_feature_window=4 * args.batch,  # latents go dead within the run, so AuxK does real work
    )  # fmt: skip
    train_sae(config.model_copy(update={"steps": 2}), store)  # warm-up
    start = time.perf_counter()
    train_sae(config, store)
    training["alignlab train_sae on the shared loop"] = (
        args.batch * args.steps / (time.perf_counter() - start)
    )

    for title, table in (
        (f"Activation caching at {site} ({n_tokens} tokens)", caching),
        (f"SAE training, d_in {d_in}, d_sae {d_sae}, k {args.k}, batch {args.batch}", training),
    ):
        baseline = next(iter(table.values()))
        print(f"\n{title}")
        for name, rate in table.items():
            print(f"  {name:<48} {rate:>10,.0f} tokens/s   {rate / baseline:5.2f}x")


if __name__ == "__main__":
    main()
