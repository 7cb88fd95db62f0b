"""The installed command, run as a user runs it: one line per problem, never a traceback."""

import json
import subprocess
import sys

import pytest


def alignlab(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alignlab.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_help_list_and_models():
    assert alignlab("--help").returncode == 0
    listing = alignlab("list")
    assert listing.returncode == 0 and "tiny-pretrain" in listing.stdout and "quickstart" in listing.stdout
    models = alignlab("models")
    assert models.returncode == 0 and "toy-llama-tiny" in models.stdout


@pytest.mark.slow
def test_errors_are_one_line_without_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = {
        ("run", "nope"): "unknown experiment 'nope'",
        ("run", "quickstart", "--set", "model=gpt-17"): "unknown model 'gpt-17'",
        ("run", "tiny-pretrain", "--set", "steps"): "--set expects key=value",
        ("run", "tiny-pretrain", "--out", str(blocker / "runs")): "cannot write to the output folder",
        ("run", "tiny-pretrain", "--config", str(tmp_path / "missing.yaml")): "missing.yaml",
        ("serve", "gpt-17"): "unknown model 'gpt-17'",
    }
    for args, message in cases.items():
        result = alignlab(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: ") and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_flag_is_a_usage_error():
    result = alignlab("run", "quickstart", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_run_and_runs_from_the_command_line(tmp_path):
    overrides = "--set steps=20 --set warmup_steps=0 --set eval_every=10 --set eval_sequences=16"
    result = alignlab(
        "run", "tiny-pretrain", "--out", str(tmp_path), "--seed", "3", "--no-progress", *overrides.split()
    )
    assert result.returncode == 0, result.stderr
    assert "tiny-pretrain:" in result.stdout and "report.html" in result.stdout
    listing = alignlab("runs", "--out", str(tmp_path))
    assert "finished" in listing.stdout and "tiny-pretrain" in listing.stdout
    assert result.stdout.startswith(f"run folder: {tmp_path}")  # said at the start, before any result


def test_ctrl_c_prints_a_line_and_marks_the_run_interrupted(tmp_path):
    import signal

    from alignlab.reporting import RunIndex

    # A shell without job control starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; the child gets the default disposition back, as in a terminal.
    process = subprocess.Popen(
        [sys.executable, "-m", "alignlab.cli", "run", "tiny-pretrain", "--out", str(tmp_path), "--no-progress",
         "--set", "steps=100000", "--set", "eval_every=1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        first = process.stdout.readline()  # the run folder is named before training starts
        assert first.startswith("run folder: "), first + process.stderr.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()  # never leave a 100,000-step run behind a failed test
    assert process.returncode == 130, err
    assert "interrupted (Ctrl-C)" in out and "Traceback" not in out + err
    (record,) = RunIndex(tmp_path).list()
    assert record.status == "interrupted" and "Ctrl-C" in record.summary


def test_catalog_table_only_writes_the_table_from_finished_runs(tmp_path):
    from alignlab.experiments import run_experiment

    run_experiment("emergence-mirage", out=tmp_path, device="cpu", show_progress=False,
                   overrides=dict(digits=2, widths=(8, 16, 24), steps=3, warmup_steps=0, batch_size=8, eval_problems=20))  # fmt: skip
    result = alignlab("catalog", "--table-only", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "catalog.md").read_text().splitlines()
    from alignlab.experiments import catalog

    assert table[0].startswith("| name | paper | seeds |") and len(table) == 2 + len(catalog())  # every one
    (row,) = [line for line in table if line.startswith("| `emergence-mirage`")]
    records = json.loads((tmp_path / "catalog.json").read_text())
    assert list(records) == ["emergence-mirage"] and records["emergence-mirage"]["seeds"][0]["seed"] == 0
    assert "| 0 | **" in row and "not run" not in row
    assert (
        "| `chinchilla` | " in "\n".join(table)
        and "not run" in [line for line in table if "`chinchilla`" in line][0]
    )
    bad = alignlab("catalog", "--only", "chinchila", "--out", str(tmp_path))
    assert bad.returncode == 1 and bad.stderr.startswith("error: --only: unknown experiment(s) chinchila")


@pytest.mark.slow
def test_catalog_runs_what_it_is_given_and_tables_it(tmp_path):
    result = alignlab(
        "catalog",
        "--only",
        "tiny-pretrain,logit-lens",
        "--seeds",
        "0,1",
        "--out",
        str(tmp_path),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "[1/2] tiny-pretrain" in result.stdout and "[2/2] logit-lens" in result.stdout
    rows = (tmp_path / "catalog.md").read_text().splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| `tiny-pretrain`", "| `logit-lens`"]
    assert rows[0].split(" | ")[2] == "0, 1" and rows[1].split(" | ")[2] == "0"  # logit-lens is deterministic
