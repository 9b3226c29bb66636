"""The Dagster layer stays thin: no function in ``assets/`` or ``jobs/`` is over 30 lines.

A function's length runs from its ``def`` line to its last line, decorators left out, minus
the lines of the functions defined inside it (each of those is measured on its own), so a
factory that wraps a sensor body is judged separately from the body it wraps.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 30
Function = ast.FunctionDef | ast.AsyncFunctionDef


def _span(node: Function) -> int:
    """Lines of ``node`` from its ``def`` (decorators included for nested defs' removal)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return (node.end_lineno or node.lineno) - first + 1


def _nested(node: ast.AST) -> list[Function]:
    """The functions defined directly inside ``node`` (not inside those)."""
    found: list[Function] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, Function):
            found.append(child)
        else:
            found.extend(_nested(child))
    return found


def function_lengths(source: str) -> dict[str, int]:
    """Each function's own length, keyed ``outer.inner`` for nested ones."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for fn in _nested(node):
            inner = _nested(fn)
            own = (fn.end_lineno or fn.lineno) - fn.lineno + 1 - sum(_span(i) for i in inner)
            lengths[f"{prefix}{fn.name}"] = own
            visit(fn, f"{prefix}{fn.name}.")

    visit(ast.parse(source), "")
    return lengths


def _files() -> list[Path]:
    return sorted([*(ROOT / "assets").glob("*.py"), *(ROOT / "jobs").glob("*.py")])


def test_the_measure_counts_nested_functions_apart_from_their_parent() -> None:
    source = "def outer():\n    a = 1\n\n    @deco\n    def inner():\n        return 2\n\n    return inner\n"
    assert function_lengths(source) == {"outer": 5, "outer.inner": 2}


def test_the_measure_flags_a_long_function() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT + 1))
    assert function_lengths(f"def long():\n{body}")["long"] == LIMIT + 2


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_function_in_the_dagster_layer_is_over_30_lines(path: Path) -> None:
    long = {
        name: n
        for name, n in function_lengths(path.read_text(encoding="utf-8")).items()
        if n > LIMIT
    }
    assert not long, f"{path.relative_to(ROOT)}: functions over {LIMIT} lines: {long}"
