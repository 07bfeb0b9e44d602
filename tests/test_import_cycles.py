"""No import cycle among the orchestration modules, counting imports inside functions too: a
lazy import that dodges a cycle at load time still ties the two modules to each other."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

from orchestration import settings

PACKAGE = settings.REPO_ROOT / "orchestration"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(tree: ast.AST, known: set[str]) -> set[str]:
    """The orchestration modules a module's import statements name, wherever they stand."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def import_graph() -> dict[str, set[str]]:
    known = modules()
    names = set(known)
    return {
        name: imported(ast.parse(path.read_text(encoding="utf-8")), names) - {name}
        for name, path in known.items()
    }


def first_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` (module -> modules it imports), or [] when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def test_the_graph_sees_lazy_imports() -> None:
    tree = ast.parse("def f():\n    from orchestration import settings\n")
    assert imported(tree, {"orchestration.settings"}) == {"orchestration.settings"}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert set(first_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})) == {"a", "b", "c"}
    assert first_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_orchestration_modules() -> None:
    cycle = first_cycle(import_graph())
    assert not cycle, " -> ".join(reversed(cycle))
