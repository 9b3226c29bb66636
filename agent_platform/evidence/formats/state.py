"""``metrics/performance/state_cache_latency.csv``: state fabric latencies and hit ratio.

Row scheme (``percentile`` says what a row is):

- ``sample``: one measured call; ``operation`` is ``get``, ``save`` or ``ledger_append``,
  ``outcome`` is ``hit``/``miss`` for gets and ``ok`` otherwise, ``round`` the workload round;
- ``p50``/``p95``/``p99``: the statistic over the samples of (operation, round), and over the
  whole run with ``round=all``;
- ``hit_ratio``: hits / gets of the round (or ``all``), in ``value``;
- ``ttl_s``: the cache TTL the trace ran with (one row), in ``value``.

Sample rows also carry the ``session`` key and the call's start and end (``started_s``,
``ended_s``, seconds on the round's clock), so the ideal cache can be replayed on the trace.

Figures: p95 latencies with their ``__n``; ``cache_hit_ratio`` (with ``__k``/``__n``), which
is a property of the declared access pattern as much as of the cache; and
``hit_ratio_vs_ideal``, the measured hits over the hits of an ideal cache of the same TTL on
the same trace (:mod:`._cache_ideal`), which judges the cache itself.
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
from agent_platform.evidence.formats._cache_ideal import TraceEvent, ideal_hits
from agent_platform.evidence.formats._latency import group_stats, grouped, stat_mismatches
from agent_platform.stats import percentile

__all__ = ["COLUMNS", "LatencySample", "consistency", "figures", "write"]

COLUMNS = (
    "timestamp",
    "operation",
    "latency_ms",
    "percentile",
    "round",
    "outcome",
    "value",
    "session",
    "started_s",
    "ended_s",
)
OPERATIONS = ("get", "save", "ledger_append")


@dataclass(frozen=True)
class LatencySample:
    """One timed call against the state fabric."""

    timestamp: str
    operation: str
    latency_ms: float
    round: int
    outcome: str
    session: str = ""
    started_s: float = 0.0
    ended_s: float = 0.0


def write(
    path: Path, samples: Sequence[LatencySample], finished_at: str, ttl_s: float | None = None
) -> int:
    """Write samples, per-round and whole-run statistics, hit ratios and the TTL; returns the
    row count."""
    rows = _sample_rows(samples)
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
    if ttl_s is not None:
        rows.append({"timestamp": finished_at, "percentile": "ttl_s", "value": repr(float(ttl_s))})
    return write_csv(path, COLUMNS, rows)


def _sample_rows(samples: Sequence[LatencySample]) -> list[dict[str, object]]:
    return [
        {
            "timestamp": s.timestamp,
            "operation": s.operation,
            "latency_ms": fmt_ms(s.latency_ms),
            "percentile": "sample",
            "round": s.round,
            "outcome": s.outcome,
            "session": s.session,
            "started_s": f"{s.started_s:.6f}",
            "ended_s": f"{s.ended_s:.6f}",
        }
        for s in samples
    ]


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
    rows, samples = _samples(path)
    by_op: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    for line, row in enumerate(samples, start=2):
        if row["operation"] not in by_op:
            raise EvidenceError(f"{path}: row {line}: unknown operation {row['operation']!r}")
        by_op[row["operation"]].append(parse_float(path, line, "latency_ms", row["latency_ms"]))
    out: dict[str, float | int | str] = {}
    for op in OPERATIONS:
        values = by_op[op]
        out[f"{op}_latency_p95_ms"] = round_ms(percentile(values, 95)) if values else NOT_MEASURED
        out[f"{op}_latency_p95_ms__n"] = len(values)
        out[f"{op}_samples"] = len(values)
    out.update(_cache_figures(path, rows, samples))
    return out


def _cache_figures(
    path: Path, rows: list[dict[str, str]], samples: list[dict[str, str]]
) -> dict[str, float | int | str]:
    """Measured hit ratio, the ideal cache's on the same trace, and their quotient."""
    gets = [r for r in samples if r["operation"] == "get"]
    hits = sum(r["outcome"] == "hit" for r in gets)
    ttl = _ttl(path, rows)
    ideal = (
        sum(sum(ideal_hits(trace, ttl)) for trace in _traces(path, samples))
        if ttl is not None
        else 0
    )
    return {
        "cache_hit_ratio": round_ratio(hits / len(gets)) if gets else NOT_MEASURED,
        "cache_hit_ratio__k": hits,
        "cache_hit_ratio__n": len(gets),
        "ideal_hit_ratio": round_ratio(ideal / len(gets)) if gets and ideal else NOT_MEASURED,
        "ideal_hits": ideal,
        "hit_ratio_vs_ideal": round_ratio(hits / ideal) if ideal else NOT_MEASURED,
    }


def _ttl(path: Path, rows: list[dict[str, str]]) -> float | None:
    """The trace's TTL (None in a file written without one: the ideal is then not measured)."""
    found = [(i, r) for i, r in enumerate(rows, start=2) if r["percentile"] == "ttl_s"]
    if not found:
        return None
    if len(found) > 1:
        raise EvidenceError(f"{path}: expected one ttl_s row, found {len(found)}")
    line, row = found[0]
    return parse_float(path, line, "value", row["value"])


def _traces(path: Path, samples: list[dict[str, str]]) -> list[list[TraceEvent]]:
    """The gets and saves of each round, in the order they ran."""
    rounds: dict[str, list[TraceEvent]] = {}
    for line, row in enumerate(samples, start=2):
        if row["operation"] in ("get", "save"):
            rounds.setdefault(row["round"], []).append(
                TraceEvent(
                    row["operation"],
                    row["session"],
                    parse_float(path, line, "started_s", row["started_s"]),
                    parse_float(path, line, "ended_s", row["ended_s"]),
                )
            )
    return [sorted(trace, key=lambda e: e.started_s) for trace in rounds.values()]


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
    problems.extend(_beyond_ideal(path))
    return [f"{path.name}: {p}" for p in problems]


def _beyond_ideal(path: Path) -> list[str]:
    """More hits than the ideal cache reaches on the same trace: no cache of that TTL could
    have answered them, so the outcomes were not measured on this trace."""
    found = figures(path)
    hits, ideal = found["cache_hit_ratio__k"], found["ideal_hits"]
    if found["hit_ratio_vs_ideal"] == NOT_MEASURED or not isinstance(hits, int):
        return []
    if isinstance(ideal, int) and hits > ideal:
        return [f"{hits} cache hits, but an ideal cache of that TTL reaches {ideal} on this trace"]
    return []


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
