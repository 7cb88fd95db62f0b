"""The run report, written twice from the same blocks: ``report.md`` (plots linked) and a self-contained
``report.html`` (plots embedded as base64), so a report can be mailed or attached as a single file."""

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import Results


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Code:
    """Preformatted text: transcripts, generations."""

    text: str


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Figure:
    path: str
    """Relative to the run folder."""
    caption: str = ""


Block = Text | Code | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def format_figure(value: Any) -> str:
    """A figure in a report: floats to 4 significant digits, nothing as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _header_sections(results: Results) -> list[Section]:
    keys = list(dict.fromkeys([*results.measured, *results.paper_figures]))
    comparison = Table(
        ["figure", "measured here", "paper"],
        [
            [k, format_figure(results.measured.get(k, "—")), format_figure(results.paper_figures.get(k, "—"))]
            for k in keys
        ],
    )
    verdict = [
        Text(f"**{results.verdict}**"),
        *[Text(f"- {reason}") for reason in results.reasons],
        comparison,
    ]
    if len(results.per_seed) > 1:
        figures = list(dict.fromkeys(k for s in results.per_seed for k in s.measured))
        verdict += [
            Text(f"Each seed on its own ({len(results.per_seed)} seeds; the verdict above pools them):"),
            Table(
                ["seed", "verdict", *figures],
                [
                    [s.seed, s.verdict, *[format_figure(s.measured.get(k)) for k in figures]]
                    for s in results.per_seed
                ],
            ),
        ]
    seeds = ", ".join(str(s) for s in results.seeds)
    return [
        Section(
            "Claim",
            [
                Text(f"**{results.claim.paper}** — {results.claim.finding}"),
                Text(f"At this scale we look for: {results.claim.expectation}"),
            ],
        ),
        Section("Verdict", verdict),
        Section(
            "Run",
            [
                Table(
                    ["preset", "seeds", "device", "duration", "alignlab", "source"],
                    [
                        [
                            results.preset,
                            seeds,
                            results.device,
                            f"{results.duration_s:.1f} s",
                            results.alignlab_version,
                            results.source_revision,
                        ]
                    ],
                )
            ],
        ),
    ]


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``, so model output cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(results: Results, sections: list[Section]) -> str:
    lines = [f"# {results.experiment}", ""]
    for section in [*_header_sections(results), *sections]:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            match block:
                case Text(text):
                    lines += [text, ""]
                case Code(text):
                    fence = _fence(text)
                    lines += [fence, text, fence, ""]
                case Table(columns, rows):
                    lines.append("| " + " | ".join(columns) + " |")
                    lines.append("|" + "---|" * len(columns))
                    lines += [
                        "| "
                        + " | ".join(format_figure(v).replace("|", "\\|").replace("\n", " ") for v in row)
                        + " |"
                        for row in rows
                    ]
                    lines.append("")
                case Figure(path, caption):
                    lines += [f"![{caption}]({path})", "", f"*{caption}*" if caption else "", ""]
    return "\n".join(lines)


def _inline_markdown(text: str) -> str:
    """Escape, then honour the one inline style the reports use: **bold**."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; white-space: pre-wrap; }
img { max-width: 100%; }
figcaption { color: #555; font-style: italic; }
"""


def render_html(results: Results, sections: list[Section], run_dir: Path) -> str:
    body = [f"<h1>{html.escape(results.experiment)}</h1>"]
    for section in [*_header_sections(results), *sections]:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            match block:
                case Text(text):
                    body.append(f"<p>{_inline_markdown(text)}</p>")
                case Code(text):
                    body.append(f"<pre>{html.escape(text)}</pre>")
                case Table(columns, rows):
                    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
                    cells = "".join(
                        "<tr>" + "".join(f"<td>{html.escape(format_figure(v))}</td>" for v in row) + "</tr>"
                        for row in rows
                    )
                    body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
                case Figure(path, caption):
                    data = base64.b64encode((run_dir / path).read_bytes()).decode()
                    body.append(
                        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                    )
    title = html.escape(f"{results.experiment} — alignlab")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
