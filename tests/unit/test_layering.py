"""The library never imports the Dagster layer: ``agent_platform`` knows nothing of ``jobs/``
or ``assets/`` (the gate command runs ``python -m jobs.launch`` as a child process)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import agent_platform

LIBRARY = Path(agent_platform.__file__).parent
LAYER = ("jobs", "assets")


def _imports_by_name(node: ast.AST) -> bool:
    """``importlib.import_module("literal")``."""
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "import_module"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
    )


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from ... import`` names in ``path``, at any depth."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif _imports_by_name(node):
            assert isinstance(node, ast.Call)
            found.append((node.lineno, str(node.args[0].value)))  # type: ignore[attr-defined]
    return found


def test_no_library_module_imports_jobs_or_assets() -> None:
    offenders = [
        f"{path.relative_to(LIBRARY.parent)}:{line} imports {name}"
        for path in sorted(LIBRARY.rglob("*.py"))
        for line, name in _imported_modules(path)
        if name.split(".")[0] in LAYER
    ]
    assert offenders == []


def test_the_scan_sees_an_import_of_the_layer(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom jobs.definitions import defs\n"
        "def f():\n    import assets.gate\n    importlib.import_module('jobs.launch')\n"
    )
    names = [name for _, name in _imported_modules(sample)]
    assert names == ["os", "jobs.definitions", "assets.gate", "jobs.launch"]


def test_loading_every_command_loads_no_dagster_layer_module() -> None:
    probe = (
        "import sys\n"
        "from agent_platform.cli import build_parser\n"
        "build_parser()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('jobs', 'assets'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
