import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from alignlab.errors import AlignlabError
from alignlab.reporting import (
    Claim,
    Code,
    Results,
    RunFolder,
    RunIndex,
    Section,
    Table,
    Text,
    ensure_writable,
)

CLAIM = Claim(paper="A et al. 2024", finding="x rises", expectation="x rises here too")


def _results(**overrides) -> Results:
    values = dict(
        experiment="demo",
        preset="cpu",
        seeds=[0],
        device="cpu",
        claim=CLAIM,
        paper_figures={"x": 0.9},
        measured={"x": 0.8, "n": 3},
        verdict="partial",
        reasons=["x rose a little <b>"],
        summary="x rose a little <b>",
        started_at="t0",
        finished_at="t1",
        duration_s=1.5,
        alignlab_version="0",
    )
    return Results(**{**values, **overrides})


def test_run_folders_are_never_reused(tmp_path):
    a, b = RunFolder.create(tmp_path, "demo"), RunFolder.create(tmp_path, "demo")
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()
    a.write_results(_results(), [])
    before = (a.path / "results.json").read_text()
    with pytest.raises(AlignlabError, match="never overwritten"):
        a.write_results(_results(summary="another"), [])
    assert (a.path / "results.json").read_text() == before


def test_report_is_written_in_markdown_and_self_contained_html(tmp_path):
    run = RunFolder.create(tmp_path, "demo")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    figure = run.save_figure(fig, "curve", "a falling line")
    sections = [
        Section("Body", [Text("**bold** & <tag>"), Table(["a", "b"], [[1, 0.123456]]), Code("x | y"), figure])
    ]
    run.write_results(_results(), sections)
    md = (run.path / "report.md").read_text()
    html = (run.path / "report.html").read_text()
    assert "![a falling line](plots/curve.png)" in md and "| x | 0.8 | 0.9 |" in md and "| 1 | 0.1235 |" in md
    assert "data:image/png;base64," in html and "plots/curve.png" not in html
    assert "<strong>bold</strong> &amp; &lt;tag&gt;" in html and "little &lt;b&gt;" in html
    assert json.loads((run.path / "results.json").read_text())["verdict"] == "partial"
    assert not [p for p in run.path.rglob(".*tmp*")], "atomic writes leave no temporary files"


def test_metrics_are_appended_as_json_lines(tmp_path):
    run = RunFolder.create(tmp_path, "demo")
    run.log_metrics(1, loss=2.0)
    run.log_metrics(2, loss=1.5)
    assert [(m["step"], m["loss"]) for m in run.read_metrics()] == [(1, 2.0), (2, 1.5)]


def test_index_records_started_finished_and_failed_runs(tmp_path):
    index = RunIndex(tmp_path)
    assert index.list() == []
    index.started("demo-1", "demo", "cpu", [0], "cpu", "2026-01-01T00:00:00")
    index.started("demo-2", "demo", "cpu", [1, 2], "cpu", "2026-01-01T00:00:01")
    index.finished("demo-1", _results())
    index.failed("demo-2", "RuntimeError: boom")
    records = {r.name: r for r in index.list()}
    assert (records["demo-1"].status, records["demo-1"].verdict, records["demo-1"].duration_s) == (
        "finished",
        "partial",
        1.5,
    )
    assert (records["demo-2"].status, records["demo-2"].summary) == ("failed", "RuntimeError: boom")


def test_unwritable_output_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(AlignlabError, match="cannot write to the output folder .*a-file/runs"):
        ensure_writable(blocker / "runs")


def test_heat_maps_name_every_row_and_column_and_carry_a_colour_bar():
    import numpy as np

    from alignlab.reporting.plots import heatmap, pyplot

    plt = pyplot()
    fig, ax = plt.subplots()
    heatmap(ax, np.full((3, 4), 0.25), ["a", "b", "c", "d"], [0, 1, 2], label="share", vmin=0, vmax=1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]  # one per row, none fractional
    assert [t.get_text() for t in ax.texts] == ["0.25"] * 12
    [bar] = [a for a in fig.axes if a is not ax]
    assert bar.get_ylabel() == "share"
    plt.close(fig)
