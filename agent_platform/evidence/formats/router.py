"""Router evidence: routing accuracy, decision latency and failover outcomes.

- ``metrics/quality/model_routing_accuracy.csv``: one row per decision; ``expected_provider``
  is the oracle's pick (:mod:`agent_platform.models.oracle`) for the provider states forced on
  the simulator, ``actual_provider`` the router's; ``correct`` must equal their equality (the
  validator checks it); ``oracle_margin`` is the oracle's winning score margin (0 when no
  provider was scored). Every decision counts: close calls are not filtered out.
- ``metrics/performance/model_router_latency.csv``: decision latency samples (the router's
  ``decide``: residency, availability, health and quality filters, the advisory read of the
  budget counters and the scoring; no reservation and no provider call) and p50/p95/p99 per
  task type and for ``all``.
- ``metrics/quality/router_failover.csv``: one row per request sent under the fault profile;
  the failover success rate is the share of requests whose first attempt failed that were
  still answered.

Every row says ``simulated=true`` when the provider traffic went to the provider simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_bool,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.formats._latency import group_stats, grouped, stat_mismatches
from agent_platform.stats import percentile

__all__ = [
    "ACCURACY_COLUMNS",
    "FAILOVER_COLUMNS",
    "LATENCY_COLUMNS",
    "FailoverOutcome",
    "RoutingDecision",
    "accuracy_figures",
    "consistency",
    "failover_figures",
    "latency_figures",
    "write_decisions",
    "write_failover",
]

ACCURACY_COLUMNS = (
    "timestamp",
    "task_type",
    "expected_provider",
    "actual_provider",
    "correct",
    "provider_states",
    "oracle_margin",
    "simulated",
)
LATENCY_COLUMNS = ("timestamp", "task_type", "provider", "decision_ms", "percentile", "simulated")
FAILOVER_COLUMNS = (
    "timestamp",
    "request_id",
    "task_type",
    "primary_provider",
    "primary_failed",
    "providers_tried",
    "attempts",
    "outcome",
    "final_provider",
    "latency_ms",
    "error",
    "simulated",
)


@dataclass(frozen=True)
class RoutingDecision:
    """One routing decision against forced provider states, with the oracle's answer."""

    timestamp: str
    task_type: str
    expected_provider: str
    actual_provider: str
    provider_states: str
    decision_ms: float
    simulated: bool
    oracle_margin: float = 0.0


@dataclass(frozen=True)
class FailoverOutcome:
    """One routed request under the fault profile."""

    timestamp: str
    request_id: str
    task_type: str
    primary_provider: str
    primary_failed: bool
    providers_tried: tuple[str, ...]
    attempts: int
    succeeded: bool
    final_provider: str
    latency_ms: float
    error: str
    simulated: bool


def write_decisions(
    accuracy_path: Path, latency_path: Path, decisions: Sequence[RoutingDecision], finished_at: str
) -> tuple[int, int]:
    """Write the accuracy and the latency files; returns their row counts."""
    accuracy_rows = [
        {
            "timestamp": d.timestamp,
            "task_type": d.task_type,
            "expected_provider": d.expected_provider,
            "actual_provider": d.actual_provider,
            "correct": d.expected_provider == d.actual_provider,
            "provider_states": d.provider_states,
            "oracle_margin": f"{d.oracle_margin:.6f}",
            "simulated": d.simulated,
        }
        for d in decisions
    ]
    simulated = all(d.simulated for d in decisions)
    latency_rows: list[dict[str, object]] = [
        {
            "timestamp": d.timestamp,
            "task_type": d.task_type,
            "provider": d.actual_provider,
            "decision_ms": fmt_ms(d.decision_ms),
            "percentile": "sample",
            "simulated": d.simulated,
        }
        for d in decisions
    ]
    groups = grouped(((d.task_type,), d.decision_ms) for d in decisions)
    groups.update(grouped((("all",), d.decision_ms) for d in decisions))
    for (task,), label, value in group_stats(groups):
        latency_rows.append(
            {
                "timestamp": finished_at,
                "task_type": task,
                "decision_ms": value,
                "percentile": label,
                "simulated": simulated,
            }
        )
    return (
        write_csv(accuracy_path, ACCURACY_COLUMNS, accuracy_rows),
        write_csv(latency_path, LATENCY_COLUMNS, latency_rows),
    )


def write_failover(path: Path, outcomes: Sequence[FailoverOutcome]) -> int:
    """Write one row per request of the failover workload."""
    rows = [
        {
            "timestamp": o.timestamp,
            "request_id": o.request_id,
            "task_type": o.task_type,
            "primary_provider": o.primary_provider,
            "primary_failed": o.primary_failed,
            "providers_tried": ">".join(o.providers_tried),
            "attempts": o.attempts,
            "outcome": "success" if o.succeeded else "failed",
            "final_provider": o.final_provider,
            "latency_ms": fmt_ms(o.latency_ms),
            "error": o.error,
            "simulated": o.simulated,
        }
        for o in outcomes
    ]
    return write_csv(path, FAILOVER_COLUMNS, rows)


def accuracy_figures(path: Path) -> dict[str, float | int | str]:
    """Routing accuracy = decisions whose actual provider equals the oracle's, over all."""
    rows = read_csv(path, ACCURACY_COLUMNS)
    correct = sum(r["expected_provider"] == r["actual_provider"] for r in rows)
    simulated = all(parse_bool(path, i, "simulated", r["simulated"]) for i, r in enumerate(rows, 2))
    return {
        "routing_accuracy": round_ratio(correct / len(rows)) if rows else NOT_MEASURED,
        "routing_decisions": len(rows),
        "providers_simulated": simulated if rows else NOT_MEASURED,
    }


def latency_figures(path: Path) -> dict[str, float | int | str]:
    rows = read_csv(path, LATENCY_COLUMNS)
    values = [
        parse_float(path, i, "decision_ms", r["decision_ms"])
        for i, r in enumerate(rows, 2)
        if r["percentile"] == "sample"
    ]
    p95 = round_ms(percentile(values, 95)) if values else NOT_MEASURED
    return {"routing_decision_latency_p95_ms": p95, "routing_decision_samples": len(values)}


def failover_figures(path: Path) -> dict[str, float | int | str]:
    """Success rate of requests whose first attempt failed, plus the overall success rate."""
    rows = read_csv(path, FAILOVER_COLUMNS)
    needed = [
        r
        for i, r in enumerate(rows, 2)
        if parse_bool(path, i, "primary_failed", r["primary_failed"])
    ]
    rescued = sum(r["outcome"] == "success" for r in needed)
    answered = sum(r["outcome"] == "success" for r in rows)
    return {
        "failover_success_rate": round_ratio(rescued / len(needed)) if needed else NOT_MEASURED,
        "failover_requests": len(needed),
        "request_success_rate": round_ratio(answered / len(rows)) if rows else NOT_MEASURED,
    }


def consistency(accuracy_path: Path, latency_path: Path) -> list[str]:
    """``correct`` cells that contradict their providers; statistics that do not recompute."""
    problems = []
    for line, row in enumerate(read_csv(accuracy_path, ACCURACY_COLUMNS), start=2):
        claimed = parse_bool(accuracy_path, line, "correct", row["correct"])
        if claimed != (row["expected_provider"] == row["actual_provider"]):
            problems.append(
                f"{accuracy_path.name}: row {line}: correct={row['correct']} contradicts providers"
            )
    rows = read_csv(latency_path, LATENCY_COLUMNS)
    samples = [r for r in rows if r["percentile"] == "sample"]
    values = grouped(
        ((r["task_type"],), parse_float(latency_path, 0, "decision_ms", r["decision_ms"]))
        for r in samples
    )
    values.update(
        grouped(
            (("all",), parse_float(latency_path, 0, "decision_ms", r["decision_ms"]))
            for r in samples
        )
    )
    stats = [
        (
            (r["task_type"],),
            r["percentile"],
            parse_float(latency_path, 0, "decision_ms", r["decision_ms"]),
        )
        for r in rows
        if r["percentile"] != "sample"
    ]
    problems.extend(f"{latency_path.name}: {p}" for p in stat_mismatches(values, stats))
    return problems
