"""Reading and writing the evidence CSVs: fixed columns, fixed number formats, atomic writes.

Numbers are written with a fixed precision and every statistic row is computed from the
sample values *as written*, so the validator, reading the same file, recomputes exactly the
same figures. A file that is missing a column or holds an unparsable cell is an
:class:`EvidenceError` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence.files import write_text_atomic

__all__ = [
    "MS_DECIMALS",
    "RATIO_DECIMALS",
    "fmt_bool",
    "fmt_ms",
    "fmt_ratio",
    "parse_bool",
    "parse_float",
    "parse_int",
    "read_csv",
    "round_ms",
    "round_ratio",
    "write_csv",
]

MS_DECIMALS = 4
RATIO_DECIMALS = 6


def round_ms(value: float) -> float:
    """A latency rounded to the precision it is written with."""
    return round(float(value), MS_DECIMALS)


def round_ratio(value: float) -> float:
    return round(float(value), RATIO_DECIMALS)


def fmt_ms(value: float) -> str:
    return f"{value:.{MS_DECIMALS}f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.{RATIO_DECIMALS}f}"


def fmt_bool(value: bool) -> str:
    return "true" if value else "false"


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> int:
    """Write ``rows`` under ``columns`` atomically; returns the number of data rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise EvidenceError(f"{path}: row has columns {sorted(unknown)} not in {list(columns)}")
        writer.writerow({key: _cell(value) for key, value in row.items()})
        count += 1
    write_text_atomic(path, buffer.getvalue())
    return count


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return fmt_bool(value)
    if value is None:
        return ""
    return str(value)


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """All data rows of ``path``; raises :class:`EvidenceError` when a column is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EvidenceError(f"{path}: evidence file is missing") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path}: cannot read evidence file: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in required if column not in header]
    if missing:
        raise EvidenceError(f"{path}: missing columns {missing}; header is {header}")
    rows = []
    for row in reader:
        if None in row:
            raise EvidenceError(f"{path}: line {reader.line_num} has more cells than the header")
        rows.append({key: value or "" for key, value in row.items()})
    return rows


def parse_float(path: Path, line: int, column: str, raw: str) -> float:
    """A finite float cell, or an :class:`EvidenceError` naming where it is."""
    try:
        value = float(raw)
    except ValueError as exc:
        raise EvidenceError(f"{path}: row {line}: {column}={raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise EvidenceError(f"{path}: row {line}: {column}={raw!r} is not finite")
    return value


def parse_int(path: Path, line: int, column: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise EvidenceError(f"{path}: row {line}: {column}={raw!r} is not an integer") from exc


def parse_bool(path: Path, line: int, column: str, raw: str) -> bool:
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise EvidenceError(f"{path}: row {line}: {column}={raw!r} is not true/false")
