"""README.md as a new user reads it: every name its library table mentions imports from the package it is
listed under, and its library snippet runs (against `alignlab serve`'s app over real loopback HTTP)."""

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LIBRARY = README[README.index("## The library") : README.index("## Benchmarks")]
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def package_rows() -> dict[str, list[str]]:
    rows = {}
    for line in LIBRARY.splitlines():
        match = re.match(r"\| `(alignlab(?:\.\w+)*)` \| (.*) \|$", line)
        if match:
            rows[match[1]] = NAME.findall(match[2])
    return rows


def test_the_table_lists_every_package_and_names_things_in_it():
    rows = package_rows()
    packages = {
        p.name for p in (Path(__file__).parents[1] / "src/alignlab").iterdir() if (p / "__init__.py").exists()
    }
    assert {f"alignlab.{p}" for p in packages} <= set(rows), "a package is missing from the README's table"
    assert sum(len(names) for names in rows.values()) >= 60


@pytest.mark.parametrize("package", sorted(package_rows()))
def test_every_name_in_the_table_imports_from_its_package(package):
    module = importlib.import_module(package)
    missing = [name for name in package_rows()[package] if not hasattr(module, name)]
    assert not missing, f"README names {missing} under {package}, which does not export them"


def test_every_import_in_the_readme_works():
    for package, names in re.findall(r"^from (alignlab[\w.]*) import (.+)$", README, flags=re.M):
        module = importlib.import_module(package)
        for name in names.split(","):
            assert hasattr(module, name.strip()), f"from {package} import {name.strip()}"


@pytest.mark.slow
@pytest.mark.embedded
def test_the_library_snippet_runs(embedded, serve):
    from alignlab.generation import HFGenerator

    [snippet] = re.findall(r"```python\n(.*?)```", LIBRARY, flags=re.S)
    url = serve(HFGenerator(*embedded), "smollm2-135m-instruct")
    assert "http://127.0.0.1:8000/v1" in snippet
    namespace: dict = {}
    exec(compile(snippet.replace("http://127.0.0.1:8000/v1", url), "README.md", "exec"), namespace)
    answer = namespace["answer"]
    assert answer.text and len(answer.logprobs) == len(answer.tokens)
    assert len(namespace["scores"]) == 2
    [result], [label] = namespace["results"], namespace["labels"]
    assert result.final and result.stopped in {"no_violations", "unparsed", "unchanged", "max_revisions"}
    assert label.p_a is not None and 0 <= label.p_a <= 1


def test_the_readme_verdict_table_is_the_one_rendered_from_the_recorded_runs():
    from alignlab.experiments import catalog
    from alignlab.experiments.table import readme_table, render_table

    records = json.loads((ROOT / "docs" / "catalog.json").read_text(encoding="utf-8"))
    assert readme_table((ROOT / "README.md").read_text(encoding="utf-8")) == render_table(records)
    assert set(records) == set(catalog())  # every experiment has a recorded run behind its row
