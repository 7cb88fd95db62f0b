"""Data-parallel training through alignlab's loop: the same script runs as one process or as several.

    python examples/data_parallel.py out/one
    torchrun --standalone --nproc_per_node 2 examples/data_parallel.py out/two     # 2 CPU processes, gloo
    accelerate launch --config_file configs/accelerate/ddp.yaml examples/data_parallel.py out/gpus

Every process draws the same global batches; the loop gives each its slice and averages the gradients, so
out/one and out/two hold the same weights (tests/test_distributed.py checks it).
"""

import json
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_model

from alignlab.data import MarkovLanguage
from alignlab.models import TOY_MODELS, build_toy_model, toy_tokenizer
from alignlab.training import TrainConfig, causal_lm_step, train

GLOBAL_BATCH, LENGTH, STEPS = 8, 32, 6


def main(out: Path) -> None:
    tokenizer = toy_tokenizer()
    model = build_toy_model(TOY_MODELS["toy-llama-tiny"], tokenizer, seed=0)
    language = MarkovLanguage()
    offset = tokenizer.convert_tokens_to_ids(language.words[0])
    ids = torch.from_numpy(language.sample(GLOBAL_BATCH * STEPS, LENGTH, seed=0) + offset)
    batches = ({"input_ids": chunk} for chunk in ids.split(GLOBAL_BATCH))
    main_process = int(os.environ.get("RANK", "0")) == 0
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        save_model(model, str(out / "initial.safetensors"))
    history = train(model, causal_lm_step, batches, TrainConfig(steps=STEPS, lr=3e-3, log_every=1))
    if main_process:
        save_model(model, str(out / "model.safetensors"))
        (out / "history.json").write_text(json.dumps(history))
        distributed = torch.distributed.is_initialized()
        run = {"processes": torch.distributed.get_world_size() if distributed else 1,
               "backend": torch.distributed.get_backend() if distributed else None}  # fmt: skip
        (out / "run.json").write_text(json.dumps(run))
    if torch.distributed.is_initialized():  # leave together: a process exiting alone can abort the others
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
