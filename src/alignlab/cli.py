"""The ``alignlab`` command line. Problems the user can fix print one line (``error: ...``), never a traceback."""

import http.server
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .errors import AlignlabError

app = typer.Typer(
    help="alignlab: an alignment-research lab in a box.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()

OutOption = Annotated[Path, typer.Option("--out", help="Folder that holds run folders and their index.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]
TensorBoardOption = Annotated[
    bool,
    typer.Option("--tensorboard", help="Also send every logged series to TensorBoard (<run>/tensorboard/)."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="ALIGNLAB_API_KEY", show_default=False,
                 help="API key for the endpoint (or set ALIGNLAB_API_KEY); never written to any file."),
]  # fmt: skip


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


@app.command()
def models() -> None:
    """List the models alignlab knows by name and where each lives (any HF folder or hub id works too)."""
    from .models import available_models

    table = Table("name", "kind", "description", "location")
    for info in available_models():
        table.add_row(info.name, info.kind, info.description, info.location)
    console.print(table)


@app.command("list")
def list_experiments() -> None:
    """List the experiments: name, the claim each tests, and its presets."""
    from .experiments import catalog

    table = Table("name", "claim", "presets", show_lines=True)
    for exp in catalog().values():
        table.add_row(exp.name, f"{exp.claim.paper}\n{exp.claim.finding}", ", ".join(exp.presets))
    console.print(table)


MAX_CONFIG_BYTES = 1_000_000  # a config is a few fields; anything larger is the wrong file


def _parse_overrides(assignments: list[str], config_file: Path | None) -> dict[str, Any]:
    import yaml

    from .data.formats import read_text_file

    overrides: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(read_text_file(config_file, "config file", max_bytes=MAX_CONFIG_BYTES))
        except AlignlabError as e:
            raise AlignlabError(f"--config {e}") from None
        except yaml.YAMLError as e:
            raise AlignlabError(
                f"--config {config_file}: not valid YAML ({str(e).splitlines()[0]})"
            ) from None
        if not isinstance(loaded, dict):
            raise AlignlabError(f"--config {config_file}: expected a mapping of config fields to values")
        overrides.update(loaded)
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise AlignlabError(f"--set expects key=value, got {assignment!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            overrides[key.strip()] = value
    return overrides


def _parse_seeds(seed: int | None, seeds: str | None) -> list[int]:
    if seed is not None and seeds is not None:
        raise AlignlabError("give --seed or --seeds, not both")
    if seeds is None:
        return [0 if seed is None else seed]
    try:
        return [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise AlignlabError(
            f"--seeds expects integers separated by commas, e.g. 0,1,2; got {seeds!r}"
        ) from None


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="Experiment name (see `alignlab list`).")],
    preset: Annotated[
        str, typer.Option("--preset", help="cpu (default: minutes on 2 cores) or gpu.")
    ] = "cpu",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for everything random (default 0).")
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds", help="Several seeds, e.g. 0,1,2: each is measured and one verdict pools them."
        ),
    ] = None,
    out: OutOption = Path("runs"),
    device: DeviceOption = "auto",
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config field: --set key=value (repeatable).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML file of config fields to override.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    tensorboard: TensorBoardOption = False,
) -> None:
    """Run an experiment into a new run folder under --out and print its verdict."""
    from .experiments import run_experiment

    overrides = _parse_overrides(assignments or [], config_file)
    _quiet_transformers()
    started: list[Path] = []

    def announce(run) -> None:
        started.append(run.path)
        console.print(f"run folder: {run.path}", highlight=False, soft_wrap=True)

    try:
        folder = run_experiment(
            name,
            preset=preset,
            seeds=_parse_seeds(seed, seeds),
            out=out,
            device=device,
            overrides=overrides,
            show_progress=progress,
            on_start=announce,
            tensorboard=tensorboard,
        )
    except KeyboardInterrupt:
        where = (
            f"{started[0]} is kept and marked interrupted in {out / 'index.sqlite'}"
            if started
            else "nothing written"
        )
        console.print(f"interrupted (Ctrl-C): {where}", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    results = json.loads((folder.path / "results.json").read_text())
    console.print(f"[bold]{results['experiment']}[/bold]: {results['verdict']} — {results['summary']}")
    console.print(f"report: {folder.path / 'report.html'}")


@app.command("catalog")
def catalog_(
    preset: Annotated[str, typer.Option("--preset", help="cpu (default) or gpu.")] = "cpu",
    seeds: Annotated[
        str,
        typer.Option(
            "--seeds", help="Seeds for every seeded experiment, e.g. 0,1,2 (deterministic ones: the first)."
        ),
    ] = "0",
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated experiment names (default: all).")
    ] = None,
    out: OutOption = Path("runs"),
    device: DeviceOption = "auto",
    table_only: Annotated[
        bool,
        typer.Option("--table-only", help="Run nothing: write the table from the runs already under --out."),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    tensorboard: TensorBoardOption = False,
) -> None:
    """Run the catalog (or --only some of it), then write <out>/catalog.md, the verdict table README.md shows,
    and <out>/catalog.json, the records it is rendered from."""
    from .experiments import catalog, run_experiment
    from .experiments.table import catalog_records, render_table
    from .reporting import ensure_writable
    from .reporting.atomic import write_json_atomic, write_text_atomic

    experiments = catalog()
    names = [n.strip() for n in only.split(",") if n.strip()] if only else list(experiments)
    if unknown := [n for n in names if n not in experiments]:
        raise AlignlabError(
            f"--only: unknown experiment(s) {', '.join(unknown)}; experiments: {', '.join(experiments)}"
        )
    seed_list = _parse_seeds(None, seeds)
    ensure_writable(out)
    if not table_only:
        _quiet_transformers()
        for i, name in enumerate(names, 1):
            console.print(f"[{i}/{len(names)}] {name}", highlight=False)
            run_seeds = seed_list if experiments[name].seeded else seed_list[:1]
            try:
                folder = run_experiment(
                    name, preset=preset, seeds=run_seeds, out=out, device=device, show_progress=progress,
                    tensorboard=tensorboard,
                )  # fmt: skip
            except KeyboardInterrupt:
                console.print(
                    f"interrupted (Ctrl-C) during {name}; the table covers the runs finished so far"
                )
                break
            results = json.loads((folder.path / "results.json").read_text())
            console.print(f"  {results['verdict']} ({folder.path})", highlight=False, soft_wrap=True)
    records = catalog_records(out, preset)
    if only:
        records = {name: record for name, record in records.items() if name in names}
    write_text_atomic(out / "catalog.md", render_table(records, names if only else None))
    write_json_atomic(out / "catalog.json", records)
    console.print(f"table: {out / 'catalog.md'} (records: catalog.json)", highlight=False, soft_wrap=True)


@app.command("eval")
def eval_(
    task: Annotated[str, typer.Argument(help="Task name (see `alignlab tasks`).")],
    model: Annotated[
        str, typer.Option("--model", help="The model under evaluation: a name, folder or hub id.")
    ] = "smollm2-135m-instruct",
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="OpenAI-compatible base URL serving --model (else it loads here)."),
    ] = None,
    api_key: ApiKeyOption = None,
    grader: Annotated[
        str | None, typer.Option("--grader", help="Model for model-graded scorers (name, folder or hub id).")
    ] = None,
    attacker: Annotated[
        str | None,
        typer.Option("--attacker", help="Attacker model for red-team tasks (name, folder or hub id)."),
    ] = None,
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="A task argument: --set key=value (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate the first N samples.")] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, max=100, help="Run each sample K times.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=4096, help="Samples solved at once.")
    ] = 32,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Log a sample whose model call fails with its error and go on."),
    ] = False,
    out: OutOption = Path("runs"),
    device: DeviceOption = "auto",
) -> None:
    """Evaluate a model on a task into a run folder with a report and an Inspect .eval log."""
    from .evals import Roles, eval_task, get_task
    from .generation import open_generator
    from .models import check_model_name, resolve_device
    from .reporting import ensure_writable

    built = get_task(task, **_parse_overrides(assignments or [], None))
    if endpoint is None:
        check_model_name(model)
    for role in (grader, attacker):
        if role is not None:
            check_model_name(role)
    torch_device = str(resolve_device(device))
    ensure_writable(out)
    _quiet_transformers()
    target = open_generator(model, endpoint=endpoint, device=torch_device, api_key=api_key)
    roles = Roles(target, grader=open_generator(grader, device=torch_device) if grader else None,
                  attacker=open_generator(attacker, device=torch_device) if attacker else None)  # fmt: skip
    names = {role: name for role, name in (("grader", grader), ("attacker", attacker)) if name}
    run_ = eval_task(built, roles, model_name=model, role_names=names, limit=limit, epochs=epochs,
                     batch_size=batch_size, out=out, fail_on_error=not keep_going)  # fmt: skip
    for result in run_.scores:
        figures = ", ".join(f"{k} {v:.3g}" for k, v in result.metrics.items())
        failed = f"; {result.failed} failed" if result.failed else ""
        console.print(f"[bold]{built.name}[/bold] {result.name}: {figures} ({result.scored} scored{failed})")
        if result.judge:
            trust = "trusted" if result.judge["trusted"] else "NOT trusted: its scores are not evidence"
            console.print(f"  judge check on labelled replies: accuracy {result.judge['accuracy']:.2f}, kappa "
                          f"{result.judge['kappa']:.2f}, {result.judge['failed']} ungraded ({trust})")  # fmt: skip
    errors = sum("error" in s for s in run_.samples)
    if errors:
        console.print(f"{errors} samples failed with an error (logged with the sample, not scored)")
    console.print(f"report: {run_.folder.path / 'report.md'}")
    console.print(f"inspect log: {run_.log} (inspect view --log-dir {run_.log.parent})")


@app.command()
def tasks() -> None:
    """List the eval tasks and their arguments."""
    import inspect

    from .evals.task import registered_tasks

    table = Table("task", "arguments", "description", show_lines=True)
    for name, factory in registered_tasks().items():
        arguments = ", ".join(
            f"{p.name}={p.default!r}" for p in inspect.signature(factory).parameters.values()
        )
        table.add_row(name, arguments, " ".join((factory.__doc__ or "").split("\n\n")[0].split()))
    console.print(table)


@app.command()
def runs(
    out: OutOption = Path("runs"),
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild the index from the run folders.")
    ] = False,
) -> None:
    """List the runs recorded under --out."""
    from .reporting import RunIndex

    index = RunIndex(out)
    if rebuild:
        if not out.is_dir():
            raise AlignlabError(f"--out {out}: no such folder")
        console.print(f"rebuilt {index.path}: {index.rebuild()} runs")
    records = index.list()
    if not records:
        console.print(f"no runs recorded under {out}")
        return
    table = Table("run", "preset", "seeds", "device", "status", "verdict", "time")
    for r in records:
        duration = f"{r.duration_s:.0f} s" if r.duration_s is not None else ""
        table.add_row(r.name, r.preset, r.seeds, r.device, r.status, r.verdict or "", duration)
    console.print(table)


@app.command()
def view(
    out: OutOption = Path("runs"),
    serve_: Annotated[
        bool, typer.Option("--serve", help="Serve the runs folder on 127.0.0.1 after building the site.")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for --serve.")] = 8765,
) -> None:
    """Build a static site over the runs under --out (<out>/site/index.html): every run with its verdict,
    one page per run with its curves and report, and the runs of one experiment side by side."""
    import functools

    from .reporting.site import build_site

    index = build_site(out)
    console.print(f"runs site: {index}")
    if not serve_:
        return
    _check_can_listen("127.0.0.1", port)
    handler = functools.partial(_QuietHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        console.print(f"serving at http://127.0.0.1:{port}/site/index.html (Ctrl-C stops)", highlight=False)
        server.serve_forever()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # one line per request would drown the terminal
        pass


debate_app = typer.Typer(help="Debates saved as JSON lines: judge them yourself.", no_args_is_help=True)
app.add_typer(debate_app, name="debate")


@debate_app.command("judge")
def debate_judge(
    debates: Annotated[Path, typer.Argument(help="Debates saved by save_debates (JSON lines).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where the judged debates go (default: <debates>.judged.jsonl)."),
    ] = None,
) -> None:
    """Show each contested debate in the terminal and record your verdict and confidence. Each verdict is
    written as soon as it is given, so stopping half way (Ctrl-C or end of input) loses nothing judged."""
    from .oversight.open_debate import HumanJudge, load_debates, save_debates

    loaded = load_debates(debates)
    out = out or debates.with_name(debates.stem + ".judged.jsonl")
    judge = HumanJudge(ask=input, show=lambda text: console.print(text, highlight=False, markup=False))
    contested = [d for d in loaded if not d.agreed]
    console.print(f"{len(contested)} contested debates of {len(loaded)} (the rest ended in agreement)")
    done = 0
    try:
        for i, debate in enumerate(contested, 1):
            debate.verdict = judge.verdict(debate, i, len(contested))
            done += 1
            save_debates(out, loaded)
    except (KeyboardInterrupt, EOFError):
        console.print(f"\nstopped: {done} of {len(contested)} judged", highlight=False)
    if done:
        console.print(f"verdicts: {out}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Model name, HF folder or hub id.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    device: DeviceOption = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Most sequences generated at once.")] = 32,
    max_tokens: Annotated[
        int, typer.Option(min=1, help="Default max_tokens when a request gives none.")
    ] = 256,
    api_key: ApiKeyOption = None,
    allow_reload: Annotated[
        bool,
        typer.Option(
            "--allow-reload", help="Accept POST /reload_weights {model_path}: a trainer pushing its policy."
        ),
    ] = False,
) -> None:
    """Serve a model over an OpenAI-compatible HTTP API (/v1/models, /v1/chat/completions, /v1/completions);
    with --api-key, requests must carry it as a bearer token."""
    import uvicorn

    from .generation import HFGenerator
    from .generation.server import create_app
    from .models import load_model

    _check_can_listen(host, port)
    _quiet_transformers()
    loaded, tokenizer = load_model(model, device=device)
    app_ = create_app(
        HFGenerator(loaded, tokenizer, batch_size=batch_size),
        model,
        default_max_tokens=max_tokens,
        api_key=api_key,
        allow_reload=allow_reload,
    )
    console.print(f"serving {model} at http://{host}:{port}/v1" + (" (API key required)" if api_key else ""))
    uvicorn.run(app_, host=host, port=port, log_level="warning")


def _check_can_listen(host: str, port: int) -> None:
    """Fail before loading a model when the address cannot be bound (port taken, unknown host)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise AlignlabError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None


def main() -> None:
    try:
        app()
    except AlignlabError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
