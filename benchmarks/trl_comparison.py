"""Our DPO and reward-model training against TRL's trainers: the same toy model, pairs, batch and steps, each
library in its own fresh process.

    pip install 'alignlab[bench]'      # TRL
    .venv/bin/python benchmarks/trl_comparison.py [--steps 60] [--batch-size 16] [--d-model 128] [--layers 4]

Each (trainer, library) runs in a new Python process, so neither library's process-wide state (accelerate's,
torch's thread pools, warmed caches) touches the other's. A run is split into setup (model copy, tokenisation,
the reference model's pass over the pairs: TRL with ``precompute_ref_log_probs``, as alignlab always does) and
training steps; the figure compared is the steady-state time per step, the median after the first five. A
profile of those steady steps, by the package the time is spent in, explains the ratio. Both first-batch losses
are printed: DPO's must be ln 2 at initialisation in both. Target: >= 1.5x TRL per step on the CPU.

TRL is configured as its documentation's quick start does (its defaults, plus no reporting, no checkpoints, and
the same learning rate, schedule, clipping and batch as ours; dropout off in both), in two forms: ``trl`` with
gradient checkpointing off, which does the same arithmetic per step as alignlab and is the one compared, and
``trl-defaults`` with TRL's own default, gradient checkpointing on (it saves memory by running each forward pass
twice, which a profile shows as twice the linear layers and attention calls).
"""

import argparse
import copy
import cProfile
import json
import math
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARMUP_STEPS = 5
LIBRARIES = ("alignlab", "trl", "trl-defaults")
PACKAGES = ("alignlab", "trl", "transformers", "accelerate", "datasets", "torch")


def build(args):
    """The toy model and the pairs, the same in every process (fixed seeds)."""
    import torch

    from alignlab.data.formats import PreferenceExample
    from alignlab.data.tasks import SentimentTask
    from alignlab.models import ToyModelConfig, build_toy_model, word_tokenizer

    torch.manual_seed(0)
    task = SentimentTask()
    tokenizer = word_tokenizer(task.words)
    n = args.steps * args.batch_size
    prompts, a, b = task.prompts(n, seed=1), task.texts(n, 12, seed=2), task.texts(n, 12, seed=3)
    pairs = [PreferenceExample(p, x, y) for p, x, y in zip(prompts, a, b, strict=True)]
    config = ToyModelConfig(
        d_model=args.d_model, n_layers=args.layers, d_mlp=4 * args.d_model, max_seq_len=64
    )
    return tokenizer, pairs, build_toy_model(config, tokenizer)


class StepClock:
    """Times each optimizer step's end; profiles the steps after the warm-up."""

    def __init__(self, steps: int, profile: bool) -> None:
        self.ends: list[float] = []
        self.steps = steps
        self.profiler = cProfile.Profile() if profile else None

    def step_ended(self) -> None:
        self.ends.append(time.perf_counter())
        if self.profiler is not None and len(self.ends) == WARMUP_STEPS:
            self.profiler.enable()
        if self.profiler is not None and len(self.ends) == self.steps:
            self.profiler.disable()

    def by_package(self) -> dict[str, float]:
        """Seconds per profiled step spent in each package's own code (tottime), the rest under 'other'."""
        if self.profiler is None:
            return {}
        totals: dict[str, float] = {}
        for (filename, _, name), (_, _, tottime, _, _) in pstats.Stats(self.profiler).stats.items():
            package = next((p for p in PACKAGES if f"/{p}/" in filename), None) or _builtin_kind(
                filename, name
            )
            totals[package] = totals.get(package, 0.0) + tottime
        steps = self.steps - WARMUP_STEPS
        return {k: v / steps for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _builtin_kind(filename: str, name: str) -> str:
    """Time outside any package's Python code: torch's C++ kernels and autograd, or the rest."""
    if filename == "~" and ("torch" in name or "run_backward" in name):
        return "torch C++ (kernels, autograd)"
    return "python and other"


def run_alignlab(trainer: str, args, clock: StepClock) -> float:
    import torch

    from alignlab.losses import pairwise_loss
    from alignlab.training import RunOptions, TrainConfig
    from alignlab.training.batching import preference_batch
    from alignlab.training.preference import train_dpo
    from alignlab.training.reward_model import reward_model_from, reward_step, train_reward_model

    tokenizer, pairs, base = build(args)
    config = TrainConfig(steps=args.steps, lr=1e-4, schedule="linear", log_every=1, grad_clip=1.0)
    options = RunOptions(on_log=lambda step, record: clock.step_ended())
    if trainer == "dpo":
        history = train_dpo(copy.deepcopy(base), tokenizer, pairs, pairwise_loss("sigmoid", beta=0.1), config,
                            batch_size=args.batch_size, chat=False, options=options)  # fmt: skip
        return history[0]["loss"]
    model = reward_model_from(base)
    with torch.no_grad():
        first = reward_step()(model, preference_batch(tokenizer, pairs[: args.batch_size], chat=False), None)
    train_reward_model(
        model, tokenizer, pairs, config, batch_size=args.batch_size, chat=False, options=options
    )
    return first.loss.item()


def run_trl(trainer: str, args, clock: StepClock) -> float:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    from alignlab.training.reward_model import reward_model_from

    class Timer(TrainerCallback):
        def on_step_end(self, *_, **__):
            clock.step_ended()

    tokenizer, pairs, base = build(args)
    rows = [{"prompt": p.prompt, "chosen": " " + p.chosen, "rejected": " " + p.rejected} for p in pairs]
    common = dict(per_device_train_batch_size=args.batch_size, max_steps=args.steps, learning_rate=1e-4,
                  lr_scheduler_type="linear", max_grad_norm=1.0, use_cpu=True, logging_steps=1, report_to="none",
                  save_strategy="no", disable_dropout=True)  # fmt: skip
    if args.library == "trl":
        common["gradient_checkpointing"] = False  # the same arithmetic per step as alignlab
    with tempfile.TemporaryDirectory() as out:
        if trainer == "dpo":
            config = DPOConfig(output_dir=out, beta=0.1, precompute_ref_log_probs=True, **common)
            model, data = copy.deepcopy(base), Dataset.from_list(rows)
            trl = DPOTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                             callbacks=[Timer()])  # fmt: skip
            trl.train()
            return next(h["loss"] for h in trl.state.log_history if "loss" in h)
        config = RewardConfig(output_dir=out, **common)
        data = Dataset.from_list([{"chosen": r["prompt"] + r["chosen"], "rejected": r["prompt"] + r["rejected"]}
                                  for r in rows])  # fmt: skip
        model = reward_model_from(base)
        trl = RewardTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                            callbacks=[Timer()])  # fmt: skip
        collated = trl.data_collator([trl.train_dataset[i] for i in range(args.batch_size)])
        with torch.no_grad():
            first = trl.compute_loss(model.eval(), collated).item()
        trl.train()
        return first


def worker(args) -> None:
    clock = StepClock(args.steps, args.profile)
    start = time.perf_counter()
    first_loss = (run_alignlab if args.library == "alignlab" else run_trl)(args.trainer, args, clock)
    total = time.perf_counter() - start
    steady = [b - a for a, b in zip(clock.ends[WARMUP_STEPS - 1 :], clock.ends[WARMUP_STEPS:], strict=False)]
    step_s = statistics.median(steady)
    import torch

    print(json.dumps({
        "trainer": args.trainer, "library": args.library, "steps": len(clock.ends), "total_s": total,
        "step_s": step_s, "setup_s": clock.ends[0] - start - step_s, "first_loss": first_loss,
        "threads": torch.get_num_threads(), "profile": clock.by_package(),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every run (medians are reported)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="time only (a profile adds overhead to both libraries' steps)")  # fmt: skip
    parser.add_argument("--trainer", choices=["dpo", "reward"], help=argparse.SUPPRESS)  # worker mode
    parser.add_argument("--library", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS + 2:
        parser.error(f"--steps must be above {WARMUP_STEPS + 2} (the first {WARMUP_STEPS} are warm-up)")
    if args.trainer:
        return worker(args)

    def measure(trainer: str, library: str, profile: bool) -> dict:
        command = [sys.executable, str(Path(__file__).resolve()), "--trainer", trainer, "--library", library,
                   "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--d-model", str(args.d_model),
                   "--layers", str(args.layers)] + ([] if profile else ["--no-profile"])  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{trainer} / {library} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    # Rounds alternate the libraries, so that a slow spell of a shared machine falls on both; each round's ratio
    # pairs runs made back to back.
    rounds = [{(t, lib): measure(t, lib, False) for t in ("dpo", "reward") for lib in LIBRARIES}
              for _ in range(args.repeats)]  # fmt: skip
    first = rounds[0]["dpo", "alignlab"]
    print(f"toy Llama d_model {args.d_model}, {args.layers} layers; {args.steps} steps of {args.batch_size} pairs; "
          f"{first['threads']} threads; each run in its own process; {args.repeats} rounds")  # fmt: skip
    print(f"{'trainer':<10}{'library':<14}{'setup s':>9}{'s/step':>9}{'total s':>9}{'first-batch loss':>18}"
          "   (medians over the rounds)")  # fmt: skip
    for trainer in ("dpo", "reward"):
        for library in LIBRARIES:
            runs = [r[trainer, library] for r in rounds]
            median = {k: statistics.median(run[k] for run in runs) for k in ("setup_s", "step_s", "total_s")}
            print(f"{trainer:<10}{library:<14}{median['setup_s']:>9.2f}{median['step_s']:>9.4f}"
                  f"{median['total_s']:>9.2f}{runs[0]['first_loss']:>18.5f}")  # fmt: skip
    for trainer in ("dpo", "reward"):
        ratios = {lib: sorted(r[trainer, lib]["step_s"] / r[trainer, "alignlab"]["step_s"] for r in rounds)
                  for lib in LIBRARIES[1:]}  # fmt: skip
        same, defaults = (statistics.median(ratios[lib]) for lib in LIBRARIES[1:])
        print(f"{trainer}: alignlab / TRL speed per steady step = {same:.2f}x (rounds {ratios['trl'][0]:.2f}-"
              f"{ratios['trl'][-1]:.2f}; target >= 1.5x: {'met' if same >= 1.5 else 'NOT met'}); against TRL's "
              f"defaults (gradient checkpointing) {defaults:.2f}x")  # fmt: skip
    print(f"DPO first-batch loss at initialisation: ln 2 = {math.log(2):.5f} expected for both")
    if args.profile:
        print("\nwhere a steady step's time goes (profiled runs, seconds per step by package, own time):")
        for trainer in ("dpo", "reward"):
            for library in LIBRARIES[:2]:
                profile = measure(trainer, library, True)["profile"]
                parts = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in profile.items() if v >= 0.0005)
                print(f"  {trainer:<8}{library:<10}{sum(profile.values()) * 1000:7.1f} ms: {parts}")


if __name__ == "__main__":
    main()
