"""Our DPO and reward-model training against TRL's trainers: same toy model, data, batch size and steps.

    pip install 'alignlab[bench]'      # TRL
    .venv/bin/python benchmarks/trl_comparison.py [--steps 30] [--batch-size 16] [--d-model 128] [--layers 4]

Prints wall time, steps/s and tokens/s of each, the ratio (ours / TRL), and both losses on the same first
batch, which must agree where the formulas are the same (DPO at initialisation: ln 2; the Bradley-Terry loss
of the same reward model on the same pairs). Target: >= 1.5x TRL on the CPU.
"""

import argparse
import copy
import math
import tempfile
import time

import torch
from datasets import Dataset

from alignlab.data.formats import PreferenceExample
from alignlab.data.tasks import SentimentTask
from alignlab.losses import pairwise_loss
from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer
from alignlab.training import TrainConfig
from alignlab.training.batching import preference_batch
from alignlab.training.preference import train_dpo
from alignlab.training.reward_model import reward_model_from, reward_step, train_reward_model


def trl_args(cls, out: str, steps: int, batch_size: int, lr: float, **extra):
    return cls(
        output_dir=out, per_device_train_batch_size=batch_size, max_steps=steps, learning_rate=lr, use_cpu=True,
        logging_steps=1, report_to="none", gradient_checkpointing=False, optim="adamw_torch", save_strategy="no",
        lr_scheduler_type="linear", disable_dropout=True, dataloader_num_workers=0, **extra,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()

    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    torch.manual_seed(0)
    task = SentimentTask()
    tokenizer = word_tokenizer(task.words)
    n = args.steps * args.batch_size
    prompts, a, b = task.prompts(n, seed=1), task.texts(n, 12, seed=2), task.texts(n, 12, seed=3)
    pairs = [PreferenceExample(p, x, y) for p, x, y in zip(prompts, a, b, strict=True)]
    rows = [{"prompt": p.prompt, "chosen": " " + p.chosen, "rejected": " " + p.rejected} for p in pairs]
    tokens = sum(
        int(preference_batch(tokenizer, pairs[i : i + args.batch_size], chat=False)["attention_mask"].sum())
        for i in range(0, n, args.batch_size)
    )
    base = build_toy_model(
        ToyModelConfig(d_model=args.d_model, n_layers=args.layers, d_mlp=4 * args.d_model, max_seq_len=64),
        tokenizer,
    )
    config = TrainConfig(steps=args.steps, lr=1e-4, schedule="linear", log_every=1, grad_clip=1.0)
    results = []

    # DPO
    ours = copy.deepcopy(base)
    start = time.perf_counter()
    history = train_dpo(
        ours,
        tokenizer,
        pairs,
        pairwise_loss("sigmoid", beta=0.1),
        config,
        batch_size=args.batch_size,
        chat=False,
    )
    results.append(("DPO", "alignlab", time.perf_counter() - start, history[0]["loss"]))
    # reward model: time both, and compare their losses on one identical batch
    ours = reward_model_from(base)
    trl_model = copy.deepcopy(ours)
    first_batch = preference_batch(tokenizer, pairs[: args.batch_size], chat=False)
    with torch.no_grad():
        our_first = reward_step()(ours, first_batch, None).loss.item()
    start = time.perf_counter()
    train_reward_model(ours, tokenizer, pairs, config, batch_size=args.batch_size, chat=False)
    results.append(("reward model", "alignlab", time.perf_counter() - start, our_first))
    # TRL last: its Trainer fixes accelerate's process-wide state, which our loop would then conflict with
    with tempfile.TemporaryDirectory() as out:
        trainer = DPOTrainer(
            model=copy.deepcopy(base), args=trl_args(DPOConfig, out, args.steps, args.batch_size, 1e-4, beta=0.1, precompute_ref_log_probs=True, max_grad_norm=1.0),
            train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        )  # fmt: skip
        start = time.perf_counter()
        trainer.train()
        first = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
        results.append(("DPO", "TRL", time.perf_counter() - start, first))

    with tempfile.TemporaryDirectory() as out:
        trainer = RewardTrainer(
            model=trl_model, args=trl_args(RewardConfig, out, args.steps, args.batch_size, 1e-4, max_grad_norm=1.0),
            train_dataset=Dataset.from_list([{"chosen": r["prompt"] + r["chosen"], "rejected": r["prompt"] + r["rejected"]} for r in rows]),
            processing_class=tokenizer,
        )  # fmt: skip
        collated = trainer.data_collator([trainer.train_dataset[i] for i in range(args.batch_size)])
        with torch.no_grad():
            trl_first = trainer.compute_loss(trl_model.eval(), collated).item()
            # TRL appends EOS and reads the reward there: our loss on TRL's exact tensors isolates the formula
            ours_on_trl_batch = reward_step()(trl_model, collated, None).loss.item()
        start = time.perf_counter()
        trainer.train()
        results.append(("reward model", "TRL", time.perf_counter() - start, trl_first))

    print(
        f"toy Llama d_model {args.d_model}, {args.layers} layers; {args.steps} steps of {args.batch_size} pairs; {tokens} tokens per pass over the pairs; {torch.get_num_threads()} threads"
    )
    print(
        f"{'trainer':<14}{'library':<10}{'seconds':>9}{'steps/s':>9}{'tokens/s':>10}{'first-batch loss':>18}"
    )
    for name, lib, seconds, loss in results:
        print(
            f"{name:<14}{lib:<10}{seconds:>9.2f}{args.steps / seconds:>9.2f}{tokens / seconds:>10.0f}{loss:>18.5f}"
        )
    for name in ("DPO", "reward model"):
        ours_s, trl_s = (s for n_, _, s, _ in results if n_ == name)
        ratio = trl_s / ours_s
        print(
            f"{name}: alignlab / TRL speed = {ratio:.2f}x (target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})"
        )
    print(f"DPO first-batch loss: ln 2 = {math.log(2):.5f} expected for both at initialisation")
    print(
        f"reward model, TRL's tokenisation of the first batch (EOS appended): TRL {trl_first:.5f}, alignlab "
        f"{ours_on_trl_batch:.5f} (the first-batch figures above differ only by that EOS)"
    )


if __name__ == "__main__":
    main()
