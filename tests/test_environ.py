"""The process environment is read and written in one module, orchestration/settings.py: every
other module asks the settings object (or uses its `process_env` / `set_process_env`)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from orchestration import settings

ROOT = settings.REPO_ROOT
ALLOWED = {Path("orchestration/settings.py")}
SKIPPED = {"tests", "data", "node_modules"}  # besides hidden folders (.venv, .git)
NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def python_files() -> list[Path]:
    """Every .py file of the repository outside tests/, data/ and hidden folders (relative)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        dirs[:] = [d for d in dirs if not d.startswith(".") and (here.parts or d not in SKIPPED)]
        found += [here / name for name in files if name.endswith(".py")]
    return sorted(found)


def environ_uses(source: str) -> list[int]:
    """Lines that use os.environ / os.getenv / os.putenv (or import one of them from os)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in NAMES:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for alias in node.names if alias.name in NAMES]
    return sorted(lines)


def test_the_scan_sees_every_form() -> None:
    source = "import os\nos.environ['A'] = '1'\nos.getenv('B')\nfrom os import putenv\n"
    assert environ_uses(source) == [2, 3, 4]
    assert Path("orchestration/cli.py") in python_files()
    assert not any(path.parts[0] in ("tests", ".venv") for path in python_files())


def test_os_environ_appears_only_in_settings() -> None:
    found = [
        f"{path}:{line}"
        for path in python_files()
        if path not in ALLOWED
        for line in environ_uses((ROOT / path).read_text(encoding="utf-8"))
    ]
    assert not found, "os.environ outside orchestration/settings.py: " + ", ".join(found)
