"""Complete evidence trees written through the real evidence formats, for the evidence tests.

Why it exists: the threshold-check tests and the contract-validator tests both need every
measured file of every workload on disk, plus each workload's manifest entry for one run; only
the values differ (figures that miss every threshold, or an honest run). Each test states its
rows in an :class:`EvidenceRows`; :func:`write_evidence_tree` writes them the one way.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from agent_platform.evidence import layout as paths
from agent_platform.evidence.formats import (
    compliance,
    concurrency,
    finops,
    guard,
    notifications,
    orchestration,
    router,
    state,
)
from agent_platform.evidence.hindsight import Observation, format_observations
from agent_platform.evidence.layout import WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import record_workload
from agent_platform.evidence.sizes import expected_sizes

__all__ = [
    "COMPLIANT_RESIDENCY_ROWS",
    "EvidenceRows",
    "failover_outcomes",
    "hindsight_decisions",
    "write_evidence_tree",
]

COMPLIANT_RESIDENCY_ROWS = "\n".join(
    (
        "openai,eu,eu.api.openai.com,true,compliant",
        "anthropic,eu-central-1,bedrock-runtime.eu-central-1.amazonaws.com,true,compliant",
        "local,on-premise,localhost,true,compliant",
    )
)
"""One compliant row per vendor of the shipped residency config (the gate wants them all)."""


@dataclass(frozen=True)
class EvidenceRows:
    """What each measured file of one run holds."""

    latency: list[state.LatencySample]
    decisions: list[router.RoutingDecision]
    failover: list[router.FailoverOutcome]
    deliveries: list[notifications.DeliveryRow]
    budget_days: list[finops.BudgetDay]
    alerts: list[finops.AlertRow]
    reservations: list[concurrency.ReservationAttempt]
    store_total_eur: float
    scenarios: list[orchestration.ScenarioRun]
    package_markdown: str
    package_summary: dict[str, Any]
    residency_row: str
    budget_windows: list[finops.BudgetWindow] = field(default_factory=list)
    guard_cases: list[guard.GuardCase] = field(default_factory=list)


def hindsight_decisions(
    at: str, *, pick: str, best: str = "anthropic", decision_ms: float = 0.3, count: int = 20
) -> list[router.RoutingDecision]:
    """``count`` simulated coding decisions picking ``pick`` where, in hindsight, ``best``
    answered fastest and cheapest and the other providers answered far slower and dearer."""
    observed = format_observations(
        [
            Observation(name, True, 800.0 if name == best else 2400.0,
                        0.01 if name == best else 0.03, True)
            for name in ("openai", "anthropic", "local")
        ]
    )  # fmt: skip
    return [
        router.RoutingDecision(
            at, "coding", best, pick, "", decision_ms, True, observed, correct=pick == best
        )
        for _ in range(count)
    ]


def failover_outcomes(
    at: str, *, tried: tuple[str, ...], final: str, error: str, count: int = 20
) -> list[router.FailoverOutcome]:
    """``count`` simulated coding requests whose primary (anthropic) failed and which then tried
    ``tried``; they succeeded when ``final`` names the provider that answered."""
    return [
        router.FailoverOutcome(
            timestamp=at,
            request_id=f"r{i}",
            task_type="coding",
            primary_provider="anthropic",
            primary_failed=True,
            providers_tried=tried,
            attempts=len(tried),
            succeeded=bool(final),
            final_provider=final,
            latency_ms=5.0,
            error=error,
            simulated=True,
            attempt_outcomes=tuple(f"{p}:{'ok' if p == final else 'server_error'}" for p in tried),
            incident="anthropic=server_error",
        )
        for i in range(count)
    ]


def write_evidence_tree(
    lay: EvidenceLayout,
    rows: EvidenceRows,
    *,
    run_id: str,
    at: str,
    backends: dict[str, Any],
    scale: str | None = None,
) -> None:
    """Write every measured file from ``rows`` and record every workload as run ``run_id``.

    With ``scale``, each manifest records that scale's sizes (as a real run does); without,
    none (for tests of the threshold checks, which do not look at sizes)."""
    state.write(lay.path(paths.STATE_LATENCY), rows.latency, at, ttl_s=60.0)
    router.write_decisions(
        lay.path(paths.ROUTING_ACCURACY), lay.path(paths.ROUTER_LATENCY), rows.decisions, at
    )
    router.write_failover(lay.path(paths.ROUTER_FAILOVER), rows.failover)
    notifications.write(lay.path(paths.DELIVERY_LOG), rows.deliveries)
    finops.write_report(lay.path(paths.BUDGET_REPORT), rows.budget_days)
    finops.write_alerts(lay.path(paths.BUDGET_ALERTS), rows.alerts)
    finops.write_windows(lay.path(paths.BUDGET_WINDOWS), rows.budget_windows)
    concurrency.write(
        lay.path(paths.BUDGET_CONCURRENCY), rows.reservations, rows.store_total_eur, at
    )
    orchestration.write(lay.path(paths.ORCHESTRATION_RUNS), rows.scenarios)
    guard.write(lay.path(paths.GUARD_CORPUS), rows.guard_cases)
    lay.path(paths.PKG_REPORT_MD).parent.mkdir(parents=True, exist_ok=True)
    lay.path(paths.PKG_REPORT_MD).write_text(rows.package_markdown)
    lay.path(paths.PKG_REPORT_JSON).write_text(json.dumps(rows.package_summary))
    residency = lay.path(paths.RESIDENCY_CSV)
    residency.parent.mkdir(parents=True, exist_ok=True)
    residency.write_text(",".join(compliance.RESIDENCY_COLUMNS) + "\n" + rows.residency_row + "\n")
    for work in WORKLOADS:
        record_workload(
            lay,
            workload=work.name,
            run_id=run_id,
            started_at=at,
            finished_at=at,
            files=work.files,
            workload_sizes=(expected_sizes(scale, work.name) or {}) if scale else {},
            backends=backends,
        )
