"""No code outside tests/ leans on private names of dagster, dagster-dbt, dbt or great_expectations.

Every `.py` of the repository (tests, the venv and build output left out) is parsed and walked:
an import of a `_name` from those packages, an attribute `_name` of something imported from
them, a subclass of one of their classes that defines a `_method`, and an assignment to an
attribute of something of theirs (monkeypatching) each fail, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orchestration import settings

LIBRARIES = ("dagster", "dagster_dbt", "dbt", "great_expectations")
SKIPPED_DIRS = {"tests", ".venv", "target", "dbt_packages", "logs", "data", "node_modules"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def from_library(module: str) -> bool:
    return module.split(".")[0] in LIBRARIES


def root_name(node: ast.expr) -> str | None:
    """`a` of `a.b.c` (or of `a.b(...).c`), None for anything else."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(source: str) -> list[str]:
    """`line: what` for each use of a private name of the libraries in `source`."""
    tree = ast.parse(source)
    found: list[str] = []
    bound: set[str] = set()  # names bound to a library module or to something imported from one
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if from_library(alias.name):
                    bound.add((alias.asname or alias.name).split(".")[0])
                    if any(private(part) for part in alias.name.split(".")):
                        found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and from_library(node.module):
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if any(private(part) for part in [*node.module.split("."), alias.name]):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and root_name(node) in bound:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ClassDef) and any(root_name(b) in bound for b in node.bases):
            methods = [
                i for i in node.body if isinstance(i, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            found += [
                f"{m.lineno}: {node.name} overrides {m.name}" for m in methods if private(m.name)
            ]
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"{node.lineno}: assigns {ast.unparse(t)}"
                for t in targets
                if isinstance(t, ast.Attribute) and root_name(t) in bound
            ]
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr"):
            if node.args and root_name(node.args[0]) in bound:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def python_files() -> list[Path]:
    root = settings.REPO_ROOT
    return sorted(
        path
        for path in root.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1])
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def test_no_private_library_name_is_used_outside_tests() -> None:
    files = python_files()
    assert any(path.name == "definitions.py" for path in files)
    found = [
        f"{path.relative_to(settings.REPO_ROOT)}:{problem}"
        for path in files
        for problem in violations(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from dagster._core.events import DagsterEventType",
        "from dagster import _check",
        "import dagster._core.storage as storage",
        "import dagster as dg\ndg._core.x()",
        "from dagster_dbt import DbtCliResource\nDbtCliResource._cli_version",
        "from dagster_dbt import DbtCliResource\n"
        "class R(DbtCliResource):\n    def _initialize_dbt_core_adapter(self, args): ...",
        "import great_expectations as gx\ngx.expectations.Expectation.configuration = None",
        "import dbt.version\nsetattr(dbt.version, 'get_latest_version', None)",
    ],
)
def test_each_kind_of_private_use_is_found(source: str) -> None:
    assert violations(source)


def test_public_uses_pass() -> None:
    source = (
        "import dagster as dg\nfrom dagster_dbt import DbtCliResource\n"
        "class R(dg.ConfigurableResource):\n    def __init__(self): ...\n    path: str = ''\n"
        "version = dg.__version__\nresource = DbtCliResource(project_dir='.')\n"
        "class Mine:\n    def _helper(self): ...\nmine = Mine()\nmine.value = 1\n"
    )
    assert violations(source) == []
