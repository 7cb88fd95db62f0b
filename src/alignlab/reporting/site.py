"""A static site over a runs folder, for ``alignlab view``: ``<runs>/site/index.html`` lists every run (filter and
sort in the page), ``site/runs/<run>.html`` shows one run (its curves from ``metrics.jsonl``, zoomable, with the
paper's figure drawn where it names the same series; its Inspect logs and files; its full report), and
``site/compare/<experiment>.html`` sets every run of one experiment side by side.

The run folders are the truth: the site is rebuilt from them each time, and the pages link back into them
(``../../<run>/report.md``), so serve or open the runs folder as a whole. The pages need no network: the one
script and style sheet are copied from the package.
"""

import html
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import AlignlabError
from .atomic import write_text_atomic
from .report import format_figure
from .store import RunIndex

MAX_POINTS = 400
"""Points kept per curve (evenly strided); a page stays small however long the run."""

VERDICT_LABELS = {
    "reproduced": "reproduced",
    "partial": "partial",
    "not_reproduced": "not reproduced",
    "not_applicable": "not applicable",
}


@dataclass
class RunView:
    """What the site shows of one run folder."""

    name: str
    path: Path
    experiment: str
    status: str
    """finished, running, failed or interrupted."""
    preset: str
    seeds: list[int]
    device: str
    started_at: str
    duration_s: float | None = None
    verdict: str | None = None
    summary: str = ""
    paper: str = ""
    finding: str = ""
    paper_figures: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    per_seed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """The verdict of a finished run, else its status."""
        return self.verdict if self.status == "finished" and self.verdict else self.status


def read_runs(root: Path) -> list[RunView]:
    """Every run folder under ``root`` (a folder with ``config.json``), oldest first. A folder without
    ``results.json`` takes its status (running, failed, interrupted) from the run index."""
    index = {r.name: r for r in RunIndex(root).list()} if (root / "index.sqlite").exists() else {}
    runs = []
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            run = RunView(
                name=folder.name, path=folder, experiment=config["experiment"], status="interrupted",
                preset=config["preset"], seeds=list(config.get("seeds", [config.get("seed", 0)])),
                device=config["device"], started_at=config.get("started_at", ""),
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a run folder this version can read
        if (folder / "results.json").is_file():
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            run.status, run.verdict = "finished", results["verdict"]
            run.summary, run.duration_s = results["summary"], results.get("duration_s")
            run.paper, run.finding = results["claim"]["paper"], results["claim"]["finding"]
            run.paper_figures, run.measured = results["paper_figures"], results["measured"]
            run.per_seed = [
                {k: v for k, v in s.items() if k != "record"} for s in results.get("per_seed", [])
            ]
        elif folder.name in index:
            record = index[folder.name]
            run.status, run.summary = record.status, record.summary or ""
        runs.append(run)
    return runs


def build_site(root: Path) -> Path:
    """Write the site for the runs under ``root``; returns the index page's path."""
    root = Path(root)
    if not root.is_dir():
        raise AlignlabError(f"--out {root}: no such folder of runs")
    runs = read_runs(root)
    site = root / "site"
    for generated in ("runs", "compare", "assets"):
        shutil.rmtree(site / generated, ignore_errors=True)
        (site / generated).mkdir(parents=True)
    assets = resources.files("alignlab.reporting") / "site_assets"
    for name in ("site.css", "site.js"):
        write_text_atomic(site / "assets" / name, (assets / name).read_text(encoding="utf-8"))
    by_experiment: dict[str, list[RunView]] = {}
    for run in runs:
        by_experiment.setdefault(run.experiment, []).append(run)
    write_text_atomic(site / "index.html", index_page(runs, by_experiment))
    for run in runs:
        write_text_atomic(
            site / "runs" / f"{run.name}.html", run_page(run, len(by_experiment[run.experiment]))
        )
    for experiment, group in by_experiment.items():
        write_text_atomic(site / "compare" / f"{experiment}.html", compare_page(experiment, group))
    return site / "index.html"


# ---------------------------------------------------------------------------------------------------- pieces


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A figure as the pages show it: as in reports (floats to 4 significant digits, nothing as an em dash),
    booleans in lower case, lists and dicts as JSON cut at 80 characters."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        text = json.dumps(value)
        return text if len(text) <= 80 else text[:77] + "…"
    return format_figure(value)


def duration(seconds: float | None) -> str:
    """Seconds under 90, minutes above; an em dash for an unknown duration."""
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _date(started_at: str) -> str:
    return started_at[:16].replace("T", " ")


def _badge(run: RunView) -> str:
    label = VERDICT_LABELS.get(run.outcome, run.outcome)
    return f'<span class="badge {_e(run.outcome)}">{_e(label)}</span>'


def _page(title: str, body: str, depth: int) -> str:
    up = "../" * depth
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)} — alignlab</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{up}assets/site.css"></head>\n<body>\n{body}\n'
        f'<script src="{up}assets/site.js"></script>\n</body></html>\n'
    )


def _table(columns: list[str], rows: list[list[str]], attrs: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def headline_figures(run: RunView, limit: int = 3) -> list[str]:
    """The figures to set side by side: those the paper and the run both give, else the run's first few."""
    shared = [k for k in run.paper_figures if k in run.measured]
    return (shared or list(run.measured))[:limit]


def _figure_list(keys: list[str], values: dict[str, Any]) -> str:
    return "<br>".join(f"{_e(k)} = {_e(fmt(values.get(k)))}" for k in keys if k in values) or "—"


# ---------------------------------------------------------------------------------------------------- pages


def index_page(runs: list[RunView], by_experiment: dict[str, list[RunView]]) -> str:
    rows = []
    for run in reversed(runs):  # newest first
        keys = headline_figures(run)
        compare = (
            f' <a class="compare" href="compare/{_e(run.experiment)}.html">compare {len(by_experiment[run.experiment])}</a>'
            if len(by_experiment[run.experiment]) > 1
            else ""
        )
        cells = [
            f'<a href="runs/{_e(run.name)}.html">{_e(run.experiment)}</a>{compare}',
            f'<div class="clamp" title="{_e(run.paper)}: {_e(run.finding)}"><span class="paper">{_e(run.paper)}</span> '
            f"{_e(run.finding)}</div>"
            if run.paper
            else _e(run.summary),
            _figure_list(keys, run.paper_figures),
            _figure_list(keys, run.measured),
            _badge(run),
            _e(", ".join(map(str, run.seeds))),
            _e(run.preset),
            _e(run.device),
            _e(duration(run.duration_s)),
            _e(_date(run.started_at)),
        ]
        sort_keys = {8: run.duration_s if run.duration_s is not None else -1, 9: run.started_at}
        rows.append(
            f'<tr data-run="{_e(run.name)}" data-outcome="{_e(run.outcome)}">'
            + "".join(
                f'<td data-sort="{_e(sort_keys[i])}">{c}</td>' if i in sort_keys else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    columns = ["experiment", "claim", "the paper's figure", "ours", "verdict", "seeds", "preset", "device",
               "duration", "date"]  # fmt: skip
    outcomes = sorted({run.outcome for run in runs})
    options = "".join(f'<option value="{_e(o)}">{_e(VERDICT_LABELS.get(o, o))}</option>' for o in outcomes)
    body = (
        f"<h1>alignlab runs</h1>"
        f'<div class="controls"><input id="filter" type="search" placeholder="filter: experiment, paper, text…" '
        f'aria-label="filter runs"> <select id="outcome-filter" aria-label="verdict"><option value="">any verdict'
        f'</option>{options}</select> <span id="shown">{len(runs)} runs</span></div>'
        f'<table id="runs" class="sortable"><thead><tr>'
        + "".join(f"<th>{c}</th>" for c in columns)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">Click a column to sort. Each run\'s folder holds its report, results and metrics; '
        f"this site is rebuilt from them by <code>alignlab view</code>.</p>"
    )
    return _page("runs", body, depth=0)


def curves(run: RunView, max_points: int = MAX_POINTS) -> dict[str, list[dict[str, Any]]]:
    """metric -> one series per seed (``{"name", "points": [[step, value], ...]}``) from ``metrics.jsonl``;
    rows that are not valid JSON (a line cut by a crash) are skipped."""
    path = run.path / "metrics.jsonl"
    if not path.exists():
        return {}
    series: dict[str, dict[str, list[list[float]]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        seed = f"seed {row.get('seed', run.seeds[0] if len(run.seeds) == 1 else '?')}"
        for key, value in row.items():
            if (
                key in ("step", "time", "seed")
                or not isinstance(value, int | float)
                or isinstance(value, bool)
            ):
                continue
            if math.isfinite(value):
                series.setdefault(key, {}).setdefault(seed, []).append([row["step"], value])
    return {
        metric: [{"name": name, "points": _stride(points, max_points)} for name, points in by_seed.items()]
        for metric, by_seed in series.items()
    }


def _stride(points: list, limit: int) -> list:
    if len(points) <= limit:
        return points
    step = math.ceil(len(points) / limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


def _charts(series_by_metric: dict[str, list[dict[str, Any]]], references: dict[str, Any]) -> str:
    """Chart placeholders and their data; site.js draws them (drag to zoom, double-click to reset)."""
    if not series_by_metric:
        return "<p>No curves: this run logged no metrics.</p>"
    data = {
        metric: {
            "series": series,
            **({"reference": references[metric]} if isinstance(references.get(metric), int | float) else {}),
        }
        for metric, series in series_by_metric.items()
    }
    charts = "".join(f'<div class="chart" data-metric="{_e(m)}"></div>' for m in data)
    payload = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    return (
        '<p class="note">Drag across a chart to zoom into those steps; double-click to zoom out. A dashed line is '
        f'the paper\'s figure for that series.</p><div class="charts">{charts}</div>'
        f'<script type="application/json" id="curves">{payload}</script>'
    )


def _report_body(run: RunView) -> str:
    """The body of the run's own ``report.html`` (without its title), figures included."""
    path = run.path / "report.html"
    if not path.exists():
        return "<p>No report: the run did not finish.</p>"
    text = path.read_text(encoding="utf-8")
    match = re.search(r"<body>(.*)</body>", text, re.S)
    body = match.group(1) if match else ""
    return re.sub(r"<h1>.*?</h1>", "", body, count=1, flags=re.S)


def _files(run: RunView) -> str:
    up = f"../../{run.name}/"
    names = sorted(p.name for p in run.path.iterdir() if p.is_file() and not p.name.startswith("."))
    links = [f'<a href="{_e(up + n)}">{_e(n)}</a>' for n in names]
    logs = sorted(run.path.rglob("logs/*.eval")) + sorted(run.path.rglob("logs/*.json"))
    inspect = "".join(
        f'<li><a href="{_e(up + str(p.relative_to(run.path)))}">{_e(p.relative_to(run.path))}</a></li>'
        for p in logs
    )
    text = "<p>Files: " + " · ".join(links) + "</p>"
    if inspect:
        folders = sorted({str(p.parent) for p in logs})
        command = " ".join(f"--log-dir {_e(f)}" for f in folders[:1])
        text += (
            f"<h3>Inspect logs</h3><ul class='inspect-logs'>{inspect}</ul>"
            f"<p class='note'>Browse them with <code>inspect view {command}</code> (the <code>evals</code> extra)."
            "</p>"
        )
    return text


def run_page(run: RunView, runs_of_experiment: int) -> str:
    compare = (
        f' · <a href="../compare/{_e(run.experiment)}.html">all {runs_of_experiment} runs of {_e(run.experiment)}'
        "</a>"
        if runs_of_experiment > 1
        else ""
    )
    meta = (
        f"{_e(run.preset)} preset · seeds {_e(', '.join(map(str, run.seeds)))} · {_e(run.device)} · "
        f"{_e(duration(run.duration_s))} · started {_e(_date(run.started_at))}"
    )
    body = (
        f'<nav><a href="../index.html">all runs</a>{compare}</nav>'
        f"<h1>{_e(run.name)}</h1><p>{_badge(run)} {_e(run.summary)}</p><p class='meta'>{meta}</p>"
        f"<h2>Curves</h2>{_charts(curves(run), run.paper_figures)}"
        f"<h2>Files</h2>{_files(run)}"
        f"<h2>Report</h2><section class='report'>{_report_body(run)}</section>"
    )
    return _page(run.name, body, depth=1)


def compare_page(experiment: str, runs: list[RunView]) -> str:
    runs = list(reversed(runs))  # newest first
    keys = list(dict.fromkeys(k for run in runs for k in [*run.paper_figures, *run.measured]))
    paper = next((run.paper_figures for run in runs if run.paper_figures), {})
    columns = ["", "the paper", *(f'<a href="../runs/{_e(r.name)}.html">{_e(r.name)}</a>' for r in runs)]
    rows = [
        ["verdict", "", *(_badge(r) for r in runs)],
        ["seeds", "", *(_e(", ".join(map(str, r.seeds))) for r in runs)],
        [
            "each seed",
            "",
            *(
                _e(
                    ", ".join(
                        f"{s['seed']}: {VERDICT_LABELS.get(s['verdict'], s['verdict'])}" for s in r.per_seed
                    )
                    or "—"
                )
                for r in runs
            ),
        ],  # fmt: skip
        ["preset", "", *(_e(r.preset) for r in runs)],
        ["device", "", *(_e(r.device) for r in runs)],
        ["duration", "", *(_e(duration(r.duration_s)) for r in runs)],
        ["started", "", *(_e(_date(r.started_at)) for r in runs)],
        *([_e(k), _e(fmt(paper.get(k))), *(_e(fmt(r.measured.get(k))) for r in runs)] for k in keys),
        ["summary", "", *(_e(r.summary) for r in runs)],
    ]
    overlaid: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for metric, series in curves(run).items():
            overlaid.setdefault(metric, []).extend(
                {"name": f"{run.name} · {s['name']}", "points": s["points"]} for s in series
            )
    body = (
        f'<nav><a href="../index.html">all runs</a></nav><h1>{_e(experiment)}: {len(runs)} runs side by side</h1>'
        + _table(columns, rows, 'id="compare" class="compare"')
        + f"<h2>Curves</h2>{_charts(overlaid, paper)}"
    )
    return _page(f"{experiment}: compare", body, depth=1)
