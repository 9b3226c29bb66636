"""Router evidence: routing accuracy against hindsight, decision latency, failover outcomes.

- ``metrics/quality/model_routing_accuracy.csv``: one row per routing decision. ``observed``
  holds what every eligible provider did when the workload sent it the same request (answered
  or not, latency, cost, whether it meets the task's quality floor); ``expected_provider`` is
  the hindsight-best provider (:mod:`agent_platform.evidence.hindsight`), ``actual_provider``
  the router's pick. The reader re-judges every row from ``observed`` with the yardstick of
  ``configs/routing_hindsight.yaml`` (beside the evidence, else the project's): the stored
  ``correct``, ``expected_provider`` and scores are never counted, only compared
  (:func:`consistency`). Every decision counts: close calls are not filtered out.
- ``metrics/performance/model_router_latency.csv``: decision latency samples (the router's
  ``decide``: residency, availability, health and quality filters, the advisory read of the
  budget counters and the scoring; no reservation and no provider call) and p50/p95/p99 per
  task type and for ``all``.
- ``metrics/quality/router_failover.csv``: one row per request sent under the failover
  workload; ``attempt_outcomes`` lists every provider call (``provider:outcome``, ``ok`` when
  it answered). The reader recomputes from it whether the first attempt failed and whether the
  request was answered; the failover success rate is the share of requests whose first attempt
  failed that were still answered.

Rates come with their sample sizes (``X__k`` successes of ``X__n`` trials), percentiles with
``X__n``. Every row says ``simulated=true`` when the provider traffic went to the provider
simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.errors import ConfigError, EvidenceError
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
from agent_platform.evidence.hindsight import (
    HINDSIGHT_CONFIG,
    HindsightConfig,
    Verdict,
    judge,
    load_hindsight,
    parse_observations,
)
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
    "hindsight_for",
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
    "regime",
    "best_score",
    "pick_score",
    "provider_states",
    "observed",
    "simulated",
)
LATENCY_COLUMNS = ("timestamp", "task_type", "provider", "decision_ms", "percentile", "simulated")
FAILOVER_COLUMNS = (
    "timestamp",
    "request_id",
    "task_type",
    "incident",
    "primary_provider",
    "primary_failed",
    "providers_tried",
    "attempts",
    "attempt_outcomes",
    "outcome",
    "final_provider",
    "latency_ms",
    "error",
    "simulated",
)
_ACCURACY_PARTS = ("metrics", "quality", "model_routing_accuracy.csv")


@dataclass(frozen=True)
class RoutingDecision:
    """One routing decision: the router's pick, the hindsight-best provider and ``observed``,
    every eligible provider's outcome for the same request
    (:func:`~agent_platform.evidence.hindsight.format_observations`)."""

    timestamp: str
    task_type: str
    expected_provider: str
    actual_provider: str
    provider_states: str
    decision_ms: float
    simulated: bool
    observed: str = ""
    regime: int = 0
    best_score: float | None = None
    pick_score: float | None = None
    correct: bool | None = None

    @property
    def counted_correct(self) -> bool:
        """The workload's verdict (the providers' equality when it gave none)."""
        if self.correct is None:
            return self.expected_provider == self.actual_provider
        return self.correct


@dataclass(frozen=True)
class FailoverOutcome:
    """One routed request of the failover workload; ``attempt_outcomes`` holds one
    ``provider:outcome`` per provider call, in order (``ok`` for the call that answered)."""

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
    attempt_outcomes: tuple[str, ...] = ()
    incident: str = ""


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def write_decisions(
    accuracy_path: Path, latency_path: Path, decisions: Sequence[RoutingDecision], finished_at: str
) -> tuple[int, int]:
    """Write the accuracy and the latency files; returns their sample row counts."""
    accuracy_rows = [
        {
            "timestamp": d.timestamp,
            "regime": d.regime,
            "task_type": d.task_type,
            "expected_provider": d.expected_provider,
            "actual_provider": d.actual_provider,
            "correct": d.counted_correct,
            "best_score": _score(d.best_score),
            "pick_score": _score(d.pick_score),
            "provider_states": d.provider_states,
            "observed": d.observed,
            "simulated": d.simulated,
        }
        for d in decisions
    ]
    write_csv(accuracy_path, ACCURACY_COLUMNS, accuracy_rows)
    write_csv(latency_path, LATENCY_COLUMNS, _latency_rows(decisions, finished_at))
    return len(accuracy_rows), len(decisions)


def _latency_rows(
    decisions: Sequence[RoutingDecision], finished_at: str
) -> list[dict[str, object]]:
    simulated = all(d.simulated for d in decisions)
    rows: list[dict[str, object]] = [
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
        rows.append(
            {
                "timestamp": finished_at,
                "task_type": task,
                "decision_ms": value,
                "percentile": label,
                "simulated": simulated,
            }
        )
    return rows


def write_failover(path: Path, outcomes: Sequence[FailoverOutcome]) -> int:
    """Write one row per request of the failover workload."""
    rows = [
        {
            "timestamp": o.timestamp,
            "request_id": o.request_id,
            "task_type": o.task_type,
            "incident": o.incident,
            "primary_provider": o.primary_provider,
            "primary_failed": o.primary_failed,
            "providers_tried": ">".join(o.providers_tried),
            "attempts": o.attempts,
            "attempt_outcomes": ">".join(o.attempt_outcomes),
            "outcome": "success" if o.succeeded else "failed",
            "final_provider": o.final_provider,
            "latency_ms": fmt_ms(o.latency_ms),
            "error": o.error,
            "simulated": o.simulated,
        }
        for o in outcomes
    ]
    return write_csv(path, FAILOVER_COLUMNS, rows)


def hindsight_for(path: Path) -> HindsightConfig:
    """The yardstick of the project the accuracy CSV belongs to (the project's own when the
    evidence root holds no ``configs/routing_hindsight.yaml``)."""
    config = None
    if path.parts[-3:] == _ACCURACY_PARTS:
        beside = path.parents[2] / HINDSIGHT_CONFIG
        config = beside if beside.is_file() else None
    try:
        return load_hindsight(config)
    except ConfigError as exc:
        raise EvidenceError(f"{path}: cannot judge it in hindsight: {exc}") from exc


def _verdicts(path: Path) -> list[tuple[int, dict[str, str], Verdict]]:
    """Every row re-judged from its observations: (line, row, verdict)."""
    config = hindsight_for(path)
    out = []
    for line, row in enumerate(read_csv(path, ACCURACY_COLUMNS), start=2):
        try:
            observed = parse_observations(row["observed"])
        except ValueError as exc:
            raise EvidenceError(f"{path}: row {line}: observed: {exc}") from exc
        if not observed:
            raise EvidenceError(f"{path}: row {line}: observed is empty (nothing to judge)")
        out.append((line, row, judge(observed, row["actual_provider"] or None, config)))
    return out


def _rate(name: str, k: int, n: int) -> dict[str, float | int | str]:
    """A rate figure with its successes and trials."""
    value: float | str = round_ratio(k / n) if n else NOT_MEASURED
    return {name: value, f"{name}__k": k, f"{name}__n": n}


def accuracy_figures(path: Path) -> dict[str, float | int | str]:
    """Routing accuracy = decisions whose pick was hindsight-best (within the tolerance)."""
    verdicts = _verdicts(path)
    correct = sum(v.correct for _, _, v in verdicts)
    simulated = all(parse_bool(path, i, "simulated", r["simulated"]) for i, r, _ in verdicts)
    return {
        **_rate("routing_accuracy", correct, len(verdicts)),
        "routing_decisions": len(verdicts),
        "providers_simulated": simulated if verdicts else NOT_MEASURED,
    }


def latency_figures(path: Path) -> dict[str, float | int | str]:
    rows = read_csv(path, LATENCY_COLUMNS)
    values = [
        parse_float(path, i, "decision_ms", r["decision_ms"])
        for i, r in enumerate(rows, 2)
        if r["percentile"] == "sample"
    ]
    p95 = round_ms(percentile(values, 95)) if values else NOT_MEASURED
    return {
        "routing_decision_latency_p95_ms": p95,
        "routing_decision_latency_p95_ms__n": len(values),
        "routing_decision_samples": len(values),
    }


def _attempts(path: Path, line: int, cell: str) -> list[tuple[str, str]]:
    pairs = []
    for part in cell.split(">") if cell else []:
        provider, sep, outcome = part.partition(":")
        if not sep or not provider or not outcome:
            raise EvidenceError(
                f"{path}: row {line}: attempt_outcomes part {part!r} is not provider:outcome"
            )
        pairs.append((provider, outcome))
    return pairs


def _failover_row(path: Path, line: int, row: dict[str, str]) -> tuple[bool, bool, bool]:
    """(first attempt failed, answered, stored cells agree) recomputed from the attempts.

    A request with no provider call (refused by the budget, nobody eligible) counts as a failed
    first attempt that was not rescued.
    """
    attempts = _attempts(path, line, row["attempt_outcomes"])
    primary_failed = not attempts or attempts[0][1] != "ok"
    answered = bool(attempts) and attempts[-1][1] == "ok"
    final = attempts[-1][0] if answered else ""
    agree = (
        parse_bool(path, line, "primary_failed", row["primary_failed"]) == primary_failed
        and row["outcome"] == ("success" if answered else "failed")
        and row["final_provider"] == final
        and row["providers_tried"] == ">".join(p for p, _ in attempts)
    )
    return primary_failed, answered, agree


def failover_figures(path: Path) -> dict[str, float | int | str]:
    """Success rate of requests whose first attempt failed, plus the overall success rate,
    recomputed from each row's attempts; rows whose stored cells disagree are listed."""
    judged = [
        (line, *_failover_row(path, line, row))
        for line, row in enumerate(read_csv(path, FAILOVER_COLUMNS), start=2)
    ]
    needed = [answered for _, primary_failed, answered, _ in judged if primary_failed]
    mismatched = [str(line) for line, _, _, agree in judged if not agree]
    return {
        **_rate("failover_success_rate", sum(needed), len(needed)),
        "failover_requests": len(needed),
        **_rate("request_success_rate", sum(a for _, _, a, _ in judged), len(judged)),
        "failover_row_mismatches": ", ".join(mismatched) or "none",
    }


def consistency(accuracy_path: Path, latency_path: Path) -> list[str]:
    """Stored verdicts the observations contradict; statistics that do not recompute."""
    problems = []
    for line, row, verdict in _verdicts(accuracy_path):
        claimed = parse_bool(accuracy_path, line, "correct", row["correct"])
        best = verdict.best or ""
        if claimed != verdict.correct or row["expected_provider"] != best:
            problems.append(
                f"{accuracy_path.name}: row {line}: correct={row['correct']}, "
                f"expected_provider={row['expected_provider']!r} but the observations give "
                f"correct={str(verdict.correct).lower()}, best={best!r}"
            )
    problems.extend(f"{latency_path.name}: {p}" for p in _latency_mismatches(latency_path))
    return problems


def _latency_mismatches(path: Path) -> list[str]:
    rows = read_csv(path, LATENCY_COLUMNS)
    samples = [
        (r["task_type"], parse_float(path, i, "decision_ms", r["decision_ms"]))
        for i, r in enumerate(rows, 2)
        if r["percentile"] == "sample"
    ]
    values = grouped(((task,), value) for task, value in samples)
    values.update(grouped((("all",), value) for _, value in samples))
    stats = [
        ((r["task_type"],), r["percentile"], parse_float(path, i, "decision_ms", r["decision_ms"]))
        for i, r in enumerate(rows, 2)
        if r["percentile"] != "sample"
    ]
    return stat_mismatches(values, stats)
