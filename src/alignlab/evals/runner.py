"""Running a Task into a run folder: samples solved and scored in batches, each finished batch appended to
``samples.jsonl`` at once (an interrupted eval keeps what it finished), then metrics, a report and an
Inspect ``.eval`` log (written also when the eval fails or is interrupted, with the samples it finished)."""

import json
import math
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..generation.base import Generator
from ..reporting import RunFolder
from ..reporting.atomic import strict_json, write_json_atomic, write_text_atomic
from ..reporting.provenance import source_revision, versions
from .inspect_log import message_json, metrics_json, model_output_json, score_json, write_eval_log
from .metrics import compute_metrics, value_to_float
from .samples import Sample
from .scorers import Score, scorer_name, scorer_params
from .solvers import solver_spec
from .state import Roles, TaskState
from .task import Task


@dataclass(frozen=True)
class ScorerResult:
    name: str
    metrics: dict[str, float]
    scored: int
    failed: int
    """Samples whose score could not be decided (e.g. an unparsed judge reply): counted, not averaged."""
    judge: dict[str, Any] | None = None
    """For a model-graded scorer with a labelled validation set: its agreement with the gold labels."""


@dataclass(frozen=True)
class EvalRun:
    folder: RunFolder
    log: Path
    scores: list[ScorerResult]
    samples: list[dict[str, Any]]
    """The EvalSample dicts, as in the log."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sample_json(state: TaskState, scores: dict[str, Score], model: str, seconds: float) -> dict[str, Any]:
    sample = state.sample
    failed = {name: s.explanation for name, s in scores.items() if s.failed}
    out: dict[str, Any] = {
        "id": sample.id,
        "epoch": state.epoch,
        "input": sample.input,
        "target": list(sample.target) if isinstance(sample.target, tuple) else sample.target,
        "messages": [message_json(m) for m in state.messages],
        "output": model_output_json(
            model,
            state.completion if state.output is not None else state.answer,
            state.output.finish_reason if state.output is not None else None,
        ),
        "scores": {name: score_json(s) for name, s in scores.items() if not s.failed},
        "metadata": {**sample.metadata, **state.metadata, **({"failed_scores": failed} if failed else {})},
        "total_time": round(seconds, 3),
        "working_time": round(seconds, 3),
    }
    if sample.choices is not None:
        out["choices"] = list(sample.choices)
    return out


def _solve_and_score(
    task: Task, roles: Roles, items: Sequence[tuple[Sample, int]], model_name: str, failures: dict[str, int]
) -> list[dict[str, Any]]:
    """One batch through the solvers and scorers; each sample's log entry. Counts failed scores in place."""
    start = time.perf_counter()
    states = [TaskState.start(sample, epoch) for sample, epoch in items]
    for solver in task.solver:
        solver(states, roles)
    by_scorer = {scorer_name(s): s(states, roles) for s in task.scorer}
    seconds = (time.perf_counter() - start) / len(states)
    entries = []
    for i, state in enumerate(states):
        scores = {name: scored[i] for name, scored in by_scorer.items()}
        for name, score in scores.items():
            failures[name] = failures.get(name, 0) + score.failed
        entries.append(_sample_json(state, scores, model_name, seconds))
    return entries


def _one_at_a_time(
    task: Task, roles: Roles, item: tuple[Sample, int], model_name: str, failures: dict[str, int]
) -> list[dict[str, Any]]:
    """After a batch failed: the sample alone, and if it fails too, a log entry holding its error."""
    try:
        return _solve_and_score(task, roles, [item], model_name, failures)
    except Exception as e:
        sample, epoch = item
        message = f"{type(e).__name__}: {e}"
        return [{"id": sample.id, "epoch": epoch, "input": sample.input,
                 "target": list(sample.target) if isinstance(sample.target, tuple) else sample.target,
                 "scores": {}, "metadata": dict(sample.metadata),
                 "error": {"message": message, "traceback": traceback.format_exc(), "traceback_ansi": message}}]  # fmt: skip


def _eval_spec(
    task: Task,
    dataset: list,
    model_name: str,
    role_names: dict[str, str],
    epochs: int,
    limit: int | None,
    created: str,
    run: RunFolder,
) -> dict[str, Any]:
    """Inspect's ``EvalSpec``: what was evaluated, on which model, with which arguments."""
    return {
        "eval_id": uuid.uuid4().hex[:22], "run_id": uuid.uuid4().hex[:22], "created": created, "task": task.name,
        "task_id": uuid.uuid4().hex[:22], "task_version": task.version, "task_args": task.args,
        "task_args_passed": task.args,
        "dataset": {"name": task.dataset_name or task.name, "samples": len(dataset),
                    "sample_ids": [s.id for s in dataset], "shuffled": False},
        "model": f"alignlab/{model_name}",
        "model_roles": {role: {"model": f"alignlab/{name}"} for role, name in role_names.items()},
        "config": {"epochs": epochs, **({"limit": limit} if limit else {})},
        "packages": {"alignlab": __version__},
        "metadata": {"alignlab_run_dir": str(run.path), "source_revision": source_revision()},
    }  # fmt: skip


def reduce_scores(
    task: Task,
    samples: Sequence[dict[str, Any]],
    failures: dict[str, int],
    judges: dict[str, dict] | None = None,
) -> list[ScorerResult]:
    """Per scorer: each sample's values averaged over its epochs, then the scorer's metrics over samples."""
    judges = judges or {}
    results = []
    for scorer in task.scorer:
        name = scorer_name(scorer)
        per_sample: dict[Any, list[float]] = {}
        for s in samples:
            if name in s["scores"]:
                per_sample.setdefault(s["id"], []).append(value_to_float(s["scores"][name]["value"]))
        values = [sum(v) / len(v) for v in per_sample.values()]
        metrics = compute_metrics(scorer.metrics, values)
        results.append(ScorerResult(name, metrics, len(values), failures.get(name, 0), judges.get(name)))
    return results


def eval_task(
    task: Task,
    model: Generator | Roles,
    *,
    model_name: str = "model",
    role_names: dict[str, str] | None = None,
    limit: int | None = None,
    epochs: int | None = None,
    batch_size: int = 32,
    out: str | Path = "runs",
    fail_on_error: bool = True,
) -> EvalRun:
    """Evaluate ``model`` (the target, or all roles) on ``task`` into ``out/eval-<task>-<time>/``.

    ``fail_on_error=False``: a batch that raises (an endpoint that errors, a prompt too long) is retried one
    sample at a time, and a sample that still fails is logged with its error and counted, not scored."""
    roles = model if isinstance(model, Roles) else Roles(target=model)
    for scorer in task.scorer:
        for role in getattr(scorer, "needs", ()):
            roles.require(role, f"the {scorer_name(scorer).replace('_', ' ')} scorer")
    for part in (*task.solver, *task.scorer):
        if hasattr(part, "check"):
            part.check(roles)
    epochs = epochs or task.epochs
    dataset = list(task.dataset)[: limit or None]
    run = RunFolder.create(Path(out), f"eval-{task.name}")
    created, start = _now(), time.perf_counter()
    spec = _eval_spec(task, dataset, model_name, role_names or {}, epochs, limit, created, run)
    plan = {"name": "plan", "steps": [solver_spec(s) for s in task.solver], "config": {}}
    run.write_config({"task": task.name, "args": task.args, "model": model_name, "roles": role_names or {},
                      "limit": limit, "epochs": epochs, "batch_size": batch_size, "started_at": created,
                      "alignlab_version": __version__, "source_revision": source_revision(), "versions": versions()})  # fmt: skip
    log_path = run.path / "logs" / f"{created.replace(':', '-')}_{task.name}_{spec['task_id']}.eval"
    samples: list[dict[str, Any]] = []
    failures: dict[str, int] = {}

    def log(status: str, results: dict | None = None, error: str | None = None) -> Path:
        stats = {"started_at": created, "completed_at": _now(), "model_usage": {}}
        return write_eval_log(log_path, status=status, spec=spec, plan=plan, samples=samples, results=results,
                              stats=stats, error=error)  # fmt: skip

    work = [(sample, epoch) for epoch in range(1, epochs + 1) for sample in dataset]
    judges: dict[str, dict] = {}
    try:
        for scorer in task.scorer:  # a judge is checked against gold labels before its scores are believed
            if hasattr(scorer, "validate"):
                agreement = scorer.validate(roles)
                judges[scorer_name(scorer)] = {**agreement.as_dict(), "trusted": agreement.trusted}
        for first in range(0, len(work), batch_size):
            items = work[first : first + batch_size]
            try:
                batch = _solve_and_score(task, roles, items, model_name, failures)
            except Exception:
                if fail_on_error:
                    raise
                batch = [
                    entry
                    for item in items
                    for entry in _one_at_a_time(task, roles, item, model_name, failures)
                ]
            with (run.path / "samples.jsonl").open("a", encoding="utf-8") as f:
                f.write("".join(json.dumps(strict_json(s), ensure_ascii=False) + "\n" for s in batch))
            samples.extend(batch)
    except KeyboardInterrupt:
        log("cancelled", error="interrupted by the user (Ctrl-C)")
        raise
    except BaseException as e:
        log("error", error=f"{type(e).__name__}: {e}")
        raise

    scores = reduce_scores(task, samples, failures, judges)
    errors = sum("error" in s for s in samples)
    results = {
        "total_samples": len(work), "completed_samples": len(samples) - errors,
        "scores": [{"name": r.name, "scorer": r.name, "params": scorer_params(s), "metrics": metrics_json(r.metrics),
                    "scored_samples": r.scored, "unscored_samples": r.failed,
                    **({"metadata": {"judge_validation": r.judge}} if r.judge else {})}
                   for r, s in zip(scores, task.scorer, strict=True)],
    }  # fmt: skip
    path = log("success", results)
    duration = round(time.perf_counter() - start, 2)
    write_text_atomic(
        run.path / "report.md", render_report(task, model_name, scores, len(samples), duration, path, errors)
    )
    write_json_atomic(
        run.path / "results.json",
        {"task": task.name, "args": task.args, "model": model_name, "samples": len(dataset), "epochs": epochs,
         "errors": errors,
         "scores": [{"scorer": r.name, "metrics": r.metrics, "scored": r.scored, "failed": r.failed,
                     **({"judge_validation": r.judge} if r.judge else {})} for r in scores],
         "log": str(path.relative_to(run.path)), "duration_s": duration, "alignlab_version": __version__},
    )  # fmt: skip
    return EvalRun(run, path, scores, samples)


def _fmt(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.3g}"


def render_report(
    task: Task, model: str, scores: list[ScorerResult], n: int, seconds: float, log: Path, errors: int = 0
) -> str:
    failed = f" {errors} of them failed with an error (logged with the sample, not scored)." if errors else ""
    lines = [
        f"# eval: {task.name}",
        "",
        f"Model `{model}`, {n} sample-epochs in {seconds:.1f} s.{failed} Arguments: "
        f"`{json.dumps(task.args, default=str)}`.",
        f"Inspect log: `{log.parent.name}/{log.name}` (`inspect view --log-dir {log.parent}`).",
        "",
        "| scorer | " + " | ".join(["metric", "value"]) + " | scored | failed |",
        "|---|---|---|---|---|",
    ]
    for r in scores:
        if r.judge:
            trust = "trusted" if r.judge["trusted"] else "NOT trusted: its scores are not evidence"
            lines.insert(4, f"Judge `{r.name}` on its labelled validation set: accuracy {_fmt(r.judge['accuracy'])}, "
                            f"Cohen's kappa {_fmt(r.judge['kappa'])}, {r.judge['failed']} ungraded of "
                            f"{r.judge['n'] + r.judge['failed']} ({trust}).\n")  # fmt: skip
        for i, (metric, value) in enumerate(r.metrics.items()):
            lines.append(
                f"| {r.name if i == 0 else ''} | {metric} | {_fmt(value)} | {r.scored if i == 0 else ''} | {r.failed if i == 0 else ''} |"
            )
    return "\n".join(lines) + "\n"
