"""Data-parallel training through the loop: two CPU processes over gloo, launched by torchrun, reach the
weights one process reaches on the same global batches; and the accelerate configs we ship parse."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignlab.errors import AlignlabError
from alignlab.training.loop import shard_batch

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "data_parallel.py"


def test_each_process_takes_its_equal_slice_of_every_batch():
    batch = {"input_ids": torch.arange(12).view(6, 2), "rows": list("abcdef"), "pair": (torch.zeros(6), 3)}
    first, second = (shard_batch(batch, i, 2) for i in range(2))
    assert first["input_ids"].tolist() == [[0, 1], [2, 3], [4, 5]] and second["rows"] == ["d", "e", "f"]
    assert second["pair"][0].shape == (3,) and second["pair"][1] == 3
    with pytest.raises(AlignlabError, match="divides by 4; got 6 rows"):
        shard_batch(batch, 0, 4)


@pytest.mark.slow
def test_two_processes_over_gloo_reach_the_weights_of_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path / "one")], env=env, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(EXAMPLE),
         str(tmp_path / "two")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "run.json").read_text()) == {"processes": 2, "backend": "gloo"}
    single, parallel = (load_file(tmp_path / name / "model.safetensors") for name in ("one", "two"))
    for name, weights in single.items():
        torch.testing.assert_close(parallel[name], weights, atol=1e-5, rtol=1e-5)
    start = load_file(tmp_path / "one" / "initial.safetensors")
    assert max((single[n] - start[n]).abs().max().item() for n in single) > 1e-3  # training moved them
    losses = [
        [h["loss"] for h in json.loads((tmp_path / n / "history.json").read_text())] for n in ("one", "two")
    ]
    assert losses[0] == pytest.approx(losses[1], abs=1e-5) and losses[0][-1] < losses[0][0]


@pytest.mark.parametrize("name", ["ddp", "fsdp2", "deepspeed_zero3"])
def test_the_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "configs" / "accelerate" / f"{name}.yaml"))
    assert (
        config.distributed_type.value
        == {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "deepspeed_zero3": "DEEPSPEED"}[name]
    )
    if name == "fsdp2":
        assert config.fsdp_config["fsdp_version"] == 2
    if name == "deepspeed_zero3":
        assert config.deepspeed_config["zero_stage"] == 3
