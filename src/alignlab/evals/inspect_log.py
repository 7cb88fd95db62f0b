"""Inspect's log format, written with the standard library, so that ``inspect view`` opens alignlab's evals.

An ``.eval`` log is a ZIP (deflate) holding (inspect_ai ``log/_recorders/eval.py``, schema version 2):

- ``_journal/start.json``: ``{"version": 2, "eval": EvalSpec, "plan": EvalPlan}``
- ``samples/{id}_epoch_{epoch}.json``: one ``EvalSample`` each
- ``summaries.json``: the ``EvalSampleSummary`` of every sample
- ``header.json``: the ``EvalLog`` without its samples (status, eval, plan, results, stats)

Field names follow inspect_ai's pydantic models; ``tests/test_evals.py`` reads a log back with
``inspect_ai.log.read_eval_log`` when inspect-ai is installed.
"""

import json
import math
import zipfile
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from ..reporting.atomic import strict_json

LOG_SCHEMA_VERSION = 2


def message_json(message: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message["role"], "content": message["content"]}
    if message["role"] == "assistant":
        out["source"] = "generate"
    return out


def model_output_json(model: str, text: str | None, finish_reason: str | None) -> dict[str, Any]:
    if text is None:
        return {"model": model, "choices": [], "completion": ""}
    stop_reason = "max_tokens" if finish_reason == "length" else "stop"
    message = {"role": "assistant", "content": text, "source": "generate"}
    return {"model": model, "choices": [{"message": message, "stop_reason": stop_reason}], "completion": text}


def score_json(score) -> dict[str, Any]:
    out: dict[str, Any] = {"value": score.value}
    if score.answer is not None:
        out["answer"] = score.answer
    if score.explanation is not None:
        out["explanation"] = score.explanation
    if score.metadata:
        out["metadata"] = score.metadata
    return out


def metrics_json(metrics: dict[str, float]) -> dict[str, Any]:
    """Inspect's metric values are numbers: a metric that could not be computed (NaN) is left out."""
    return {name: {"name": name, "value": value} for name, value in metrics.items() if math.isfinite(value)}


def spec_params(part: Any) -> dict[str, Any]:
    """A solver's or scorer's settings as a log records them: its init fields, with nested dataclasses as dicts
    and anything that is not plain data (a function, a model) by its name only, never copied."""

    def value_of(value: Any) -> Any:
        if value is None or isinstance(value, str | int | float | bool):
            return value
        if isinstance(value, list | tuple):
            return [value_of(v) for v in value]
        if isinstance(value, dict):
            return {str(k): value_of(v) for k, v in value.items()}
        if is_dataclass(value) and not isinstance(value, type):
            return {"type": type(value).__name__, **spec_params(value)}
        return getattr(value, "__qualname__", type(value).__name__)

    if not is_dataclass(part):
        return {}
    return {
        f.name: value_of(getattr(part, f.name))
        for f in fields(part)
        if f.init and f.name not in ("metrics", "name")
    }


def _dump(value: Any) -> bytes:
    return json.dumps(strict_json(value), allow_nan=False, ensure_ascii=False).encode("utf-8")


def write_eval_log(
    path: Path,
    *,
    status: str,
    spec: dict[str, Any],
    plan: dict[str, Any],
    samples: list[dict[str, Any]],
    results: dict[str, Any] | None,
    stats: dict[str, Any],
    error: str | None = None,
) -> Path:
    """Write one ``.eval`` log. ``samples`` are EvalSample dicts; the summaries are derived from them."""
    summary_fields = ("id", "epoch", "input", "target", "choices", "metadata", "scores", "started_at",
                      "completed_at", "total_time", "working_time")  # fmt: skip
    summaries = [
        {k: s[k] for k in summary_fields if k in s}
        | {"completed": True}
        | ({"error": s["error"]["message"]} if "error" in s else {})
        for s in samples
    ]
    header: dict[str, Any] = {
        "version": LOG_SCHEMA_VERSION,
        "status": status,
        "eval": spec,
        "plan": plan,
        "stats": stats,
    }
    if results is not None:
        header["results"] = results
    if error is not None:
        header["error"] = {"message": error, "traceback": error, "traceback_ansi": error}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "_journal/start.json", _dump({"version": LOG_SCHEMA_VERSION, "eval": spec, "plan": plan})
        )
        for sample in samples:
            archive.writestr(f"samples/{sample['id']}_epoch_{sample['epoch']}.json", _dump(sample))
        archive.writestr("summaries.json", _dump(summaries))
        archive.writestr("header.json", _dump(header))
    partial.replace(path)
    return path
