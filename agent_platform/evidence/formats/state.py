"""``metrics/performance/state_cache_latency.csv``: state fabric latencies and hit ratio.

Row scheme (``percentile`` says what a row is):

- ``sample``: one measured call; ``operation`` is ``get``, ``save`` or ``ledger_append``,
  ``outcome`` is ``hit``/``miss`` for gets and ``ok`` otherwise, ``round`` the workload round;
- ``p50``/``p95``/``p99``: the statistic over the samples of (operation, round), and over the
  whole run with ``round=all``;
- ``hit_ratio``: hits / gets of the round (or ``all``), in ``value``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence.csvio import (
    fmt_ms,
    fmt_ratio,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.formats._latency import group_stats, grouped, stat_mismatches
from agent_platform.stats import percentile

__all__ = ["COLUMNS", "LatencySample", "consistency", "figures", "write"]

COLUMNS = ("timestamp", "operation", "latency_ms", "percentile", "round", "outcome", "value")
OPERATIONS = ("get", "save", "ledger_append")


@dataclass(frozen=True)
class LatencySample:
    """One timed call against the state fabric."""

    timestamp: str
    operation: str
    latency_ms: float
    round: int
    outcome: str


def write(path: Path, samples: Sequence[LatencySample], finished_at: str) -> int:
    """Write samples, per-round and whole-run statistics and hit ratios; returns row count."""
    rows: list[dict[str, object]] = [
        {
            "timestamp": s.timestamp,
            "operation": s.operation,
            "latency_ms": fmt_ms(s.latency_ms),
            "percentile": "sample",
            "round": s.round,
            "outcome": s.outcome,
        }
        for s in samples
    ]
    groups = grouped(((s.operation, str(s.round)), s.latency_ms) for s in samples)
    groups.update(grouped(((s.operation, "all"), s.latency_ms) for s in samples))
    for (operation, round_label), label, value in group_stats(groups):
        rows.append(
            {
                "timestamp": finished_at,
                "operation": operation,
                "latency_ms": value,
                "percentile": label,
                "round": round_label,
            }
        )
    for round_label, ratio in _hit_ratios(samples).items():
        rows.append(
            {
                "timestamp": finished_at,
                "operation": "get",
                "percentile": "hit_ratio",
                "round": round_label,
                "value": fmt_ratio(ratio),
            }
        )
    return write_csv(path, COLUMNS, rows)


def _hit_ratios(samples: Sequence[LatencySample]) -> dict[str, float]:
    gets = [s for s in samples if s.operation == "get"]
    ratios: dict[str, float] = {}
    for label in sorted({str(s.round) for s in gets}, key=int):
        in_round = [s for s in gets if str(s.round) == label]
        ratios[label] = sum(s.outcome == "hit" for s in in_round) / len(in_round)
    if gets:
        ratios["all"] = sum(s.outcome == "hit" for s in gets) / len(gets)
    return ratios


def _samples(path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rows = read_csv(path, COLUMNS)
    samples = [r for r in rows if r["percentile"] == "sample"]
    return rows, samples


def figures(path: Path) -> dict[str, float | int | str]:
    """The gate figures, recomputed from the sample rows of the file."""
    _rows, samples = _samples(path)
    by_op: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    hits = gets = 0
    for line, row in enumerate(samples, start=2):
        if row["operation"] not in by_op:
            raise EvidenceError(f"{path}: row {line}: unknown operation {row['operation']!r}")
        by_op[row["operation"]].append(parse_float(path, line, "latency_ms", row["latency_ms"]))
        if row["operation"] == "get":
            gets += 1
            hits += row["outcome"] == "hit"
    out: dict[str, float | int | str] = {}
    for op, name in (("get", "get"), ("save", "save"), ("ledger_append", "ledger_append")):
        values = by_op[op]
        out[f"{name}_latency_p95_ms"] = round_ms(percentile(values, 95)) if values else NOT_MEASURED
        out[f"{name}_samples"] = len(values)
    out["cache_hit_ratio"] = round_ratio(hits / gets) if gets else NOT_MEASURED
    return out


def consistency(path: Path) -> list[str]:
    """Statistic rows that do not recompute from the samples they summarise."""
    rows, samples = _samples(path)
    values = grouped(
        ((r["operation"], r["round"]), parse_float(path, 0, "latency_ms", r["latency_ms"]))
        for r in samples
    )
    values.update(
        grouped(
            ((r["operation"], "all"), parse_float(path, 0, "latency_ms", r["latency_ms"]))
            for r in samples
        )
    )
    stats = [
        (
            (r["operation"], r["round"]),
            r["percentile"],
            parse_float(path, 0, "latency_ms", r["latency_ms"]),
        )
        for r in rows
        if r["percentile"] in ("p50", "p95", "p99")
    ]
    problems = stat_mismatches(values, stats)
    problems.extend(_ratio_mismatches(path, rows, samples))
    return [f"{path.name}: {p}" for p in problems]


def _ratio_mismatches(
    path: Path, rows: list[dict[str, str]], samples: list[dict[str, str]]
) -> list[str]:
    problems = []
    gets = [r for r in samples if r["operation"] == "get"]
    for row in (r for r in rows if r["percentile"] == "hit_ratio"):
        scope = gets if row["round"] == "all" else [g for g in gets if g["round"] == row["round"]]
        if not scope:
            problems.append(f"hit_ratio row for round {row['round']} without get samples")
            continue
        expected = round_ratio(sum(g["outcome"] == "hit" for g in scope) / len(scope))
        got = parse_float(path, 0, "value", row["value"])
        if abs(expected - got) > 10**-6:
            problems.append(f"hit_ratio round {row['round']}={got} but the samples give {expected}")
    return problems
