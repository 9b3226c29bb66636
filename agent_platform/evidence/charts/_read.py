"""Reading the evidence CSVs for charts: only the columns a chart needs, by name.

Charts read the files a run wrote, never a workload's memory, so a chart shows exactly what
the evidence says. Columns are looked up by name through :func:`read_csv`, which tolerates
columns it was not asked for: a format that gains a column keeps its charts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from agent_platform.evidence.csvio import parse_float, read_csv

__all__ = ["floats_by", "rows_of"]


def rows_of(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """The data rows of ``path`` (an :class:`EvidenceError` when a needed column is missing)."""
    return read_csv(path, columns)


def floats_by(
    path: Path,
    rows: Sequence[dict[str, str]],
    group: Callable[[dict[str, str]], str | None],
    column: str,
) -> dict[str, list[float]]:
    """The values of ``column`` per group; rows whose group is None or whose cell is blank
    are left out (a pending delivery has no latency)."""
    out: dict[str, list[float]] = defaultdict(list)
    for line, row in enumerate(rows, start=2):
        key = group(row)
        if key is None or row[column] == "":
            continue
        out[key].append(parse_float(path, line, column, row[column]))
    return dict(out)
