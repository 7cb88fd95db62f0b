"""`alignlab view`: the runs site, built from real run folders and read back by a real browser (headless
Chromium, Debian's `chromium`, which `scripts/setup.sh --dev` installs where it can)."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from alignlab.experiments import run_experiment
from alignlab.reporting import RunFolder
from alignlab.reporting.site import _stride, build_site, curves, fmt, read_runs

TINY = dict(steps=20, warmup_steps=0, eval_every=5, batch_size=8, eval_sequences=16)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (Debian: apt-get install chromium; setup.sh --dev does it as root)",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Three runs: tiny-pretrain on seeds 0 and 5, tiny-pretrain on seed 0, and a grpo run that never finished."""
    root = tmp_path_factory.mktemp("runs")
    for seeds in ([0, 5], [0]):
        run_experiment(
            "tiny-pretrain", out=root, device="cpu", show_progress=False, overrides=TINY, seeds=seeds
        )
    unfinished = RunFolder.create(root, "grpo")
    unfinished.write_config({"experiment": "grpo", "preset": "cpu", "seeds": [3], "device": "cpu",
                             "started_at": "2026-12-02T00:00:00+0000"})  # fmt: skip
    unfinished.log_metrics(1, seed=3, grpo_reward=0.25)
    with (unfinished.path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 2, "grpo_rew')  # a line cut by the crash
    build_site(root)
    return root


def browser_dom(url: str) -> str:
    """The DOM after the page's scripts ran, as headless Chromium serialises it."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def visible_runs(dom: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r'<tr data-run="([^"]+)" data-outcome="[^"]+">', dom)]


def test_the_site_reads_every_run_folder(runs):
    views = read_runs(runs)
    assert [v.experiment for v in views].count("tiny-pretrain") == 2
    finished = [v for v in views if v.status == "finished"]
    assert {v.verdict for v in finished} <= {"reproduced", "partial", "not_reproduced"}
    assert [v.seeds for v in finished] == [[0, 5], [0]]
    [unfinished] = [v for v in views if v.experiment == "grpo"]
    assert unfinished.outcome == "interrupted" and unfinished.verdict is None
    # the cut line is skipped, the whole one kept
    assert curves(unfinished) == {"grpo_reward": [{"name": "seed 3", "points": [[1, 0.25]]}]}
    two_seeds = curves(finished[0])
    assert {s["name"] for s in two_seeds["eval_loss"]} == {"seed 0", "seed 5"}
    site = runs / "site"
    assert (site / "compare" / "tiny-pretrain.html").exists() and (site / "assets" / "site.js").exists()
    page = (site / "runs" / f"{finished[0].name}.html").read_text()
    assert "data:image/png;base64," in page and "Loss curve" in page  # the run's own report, figures included
    assert f"../../{finished[0].name}/results.json" in page


def test_long_curves_are_strided_to_a_bounded_size_with_the_last_point_kept():
    points = [[i, float(i)] for i in range(1001)]
    kept = _stride(points, 400)
    assert len(kept) <= 401 and kept[0] == [0, 0.0] and kept[-1] == [1000, 1000.0]
    assert _stride(points[:10], 400) == points[:10]
    assert [fmt(None), fmt(0.123456), fmt(True), fmt([1, 2])] == ["—", "0.1235", "true", "[1, 2]"]


def test_building_the_site_again_drops_pages_of_deleted_runs(tmp_path):
    folder = RunFolder.create(tmp_path, "gcg")
    folder.write_config({"experiment": "gcg", "preset": "cpu", "seeds": [0], "device": "cpu"})
    build_site(tmp_path)
    assert (tmp_path / "site" / "runs" / f"{folder.name}.html").exists()
    shutil.rmtree(folder.path)
    build_site(tmp_path)
    assert not list((tmp_path / "site" / "runs").iterdir())


@needs_chromium
def test_the_index_in_a_browser_filters_and_sorts(runs):
    index = (runs / "site" / "index.html").as_uri()
    everything = browser_dom(index)
    names = visible_runs(everything)
    assert len(names) == 3 and ">3 of 3 runs<" in everything
    for view in read_runs(runs):
        assert f'data-run="{view.name}" data-outcome="{view.outcome}"' in everything

    filtered = browser_dom(index + "?q=grpo")
    assert ">1 of 3 runs<" in filtered
    hidden = re.findall(r'<tr data-run="([^"]+)" data-outcome="[^"]+" hidden="">', filtered)
    assert sorted(hidden) == sorted(n for n in names if not n.startswith("grpo"))

    by_verdict = browser_dom(index + "?verdict=interrupted")
    assert ">1 of 3 runs<" in by_verdict

    by_duration = browser_dom(index + "?sort=duration")  # ascending: the unfinished run (no duration) first
    assert visible_runs(by_duration)[0].startswith("grpo") and 'data-dir="asc"' in by_duration


@needs_chromium
def test_run_and_compare_pages_draw_their_curves_in_a_browser(runs):
    two_seeds = next(v for v in read_runs(runs) if v.seeds == [0, 5])
    dom = browser_dom((runs / "site" / "runs" / f"{two_seeds.name}.html").as_uri())
    metrics = curves(two_seeds)
    drawn = re.findall(r'<div class="chart" data-metric="([^"]+)"><h3>', dom)
    assert drawn == list(metrics)
    assert dom.count('class="series"') == sum(len(series) for series in metrics.values())
    assert "seed 5" in dom

    compare = browser_dom((runs / "site" / "compare" / "tiny-pretrain.html").as_uri())
    finished = [v.name for v in read_runs(runs) if v.experiment == "tiny-pretrain"]
    assert all(f"{name} · seed 0" in compare for name in finished)
    assert compare.count('class="series"') == 3 * len(metrics)  # three (run, seed) curves for each metric


@needs_chromium
@pytest.mark.slow
def test_alignlab_view_serves_the_site_and_the_run_folders_on_loopback(runs, free_port):
    server = subprocess.Popen(
        [sys.executable, "-m", "alignlab.cli", "view", "--out", str(runs), "--serve", "--port", str(free_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{free_port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/site/index.html", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        dom = browser_dom(f"{base}/site/index.html?q=tiny")
        assert ">2 of 3 runs<" in dom
        run = visible_runs(dom)[0]
        results = json.loads(urllib.request.urlopen(f"{base}/{run}/results.json", timeout=5).read())
        assert results["experiment"] == "tiny-pretrain"  # the pages' links into the run folders resolve
    finally:
        server.terminate()
        server.wait(timeout=10)
