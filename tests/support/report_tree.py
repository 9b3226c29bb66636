"""An evidence tree with every kind of outcome the charts draw, and its gate, for chart tests.

Why it exists: the chart, report, asset and browser tests all need the same thing: every
evidence file on disk (written through the real formats), with retries, a failed delivery, a
never-attempted pair, failovers to several providers and alerts, plus the gate JSON computed
from them by the real gate code. :func:`write_report_tree` writes it once per test.
"""

from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.formats import (
    concurrency,
    finops,
    notifications,
    orchestration,
    router,
    state,
)
from agent_platform.evidence.gate import GateRun, compute_gate, write_gate
from agent_platform.evidence.layout import EvidenceLayout
from jobs.resources import DEFAULT_CONTRACT
from tests.support.evidence import EvidenceRows, failover_outcomes, write_evidence_tree

__all__ = ["RUN", "T", "chart_rows", "deliveries", "write_report_tree"]

RUN = "run-report-tree"
T = "2026-06-01T10:00:00Z"


def deliveries() -> list[notifications.DeliveryRow]:
    """Per destination: first-attempt deliveries; the webhook also retries, fails and pends."""
    rows = [
        notifications.DeliveryRow(T, dest, f"c{i}", "delivered", 3.0, 1, f"n{i}", chan, 10.0 + i)
        for i in range(12)
        for dest, chan in (("hook", "webhook"), ("mail", "email"))
    ]
    rows += [
        notifications.DeliveryRow(T, "hook", "c20", "retrying", 5.0, 1, "n20", "webhook", 20.0),
        notifications.DeliveryRow(T, "hook", "c20", "delivered", 4.0, 2, "n20", "webhook", 90.0),
        notifications.DeliveryRow(T, "hook", "c21", "failed", 5.0, 1, "n21", "webhook", 30.0),
        notifications.DeliveryRow(
            T, "hook", "", notifications.PENDING, 0.0, 0, "n22", "webhook", 0.0
        ),
    ]
    return rows


def _scenarios() -> list[orchestration.ScenarioRun]:
    order = ("planner", "coder", "critic")
    return [
        orchestration.ScenarioRun(
            T, name, order, order, 1, "approved", "approved", False, False, ms, True, warm
        )
        for name, ms, warm in (("a", 900.0, True), ("a", 40.0, False), ("b", 55.0, False))
    ]


def _others() -> dict[str, Any]:
    """The files no chart draws, filled so the gate can compute every subsystem."""
    return {
        "budget_days": [
            finops.BudgetDay(f"2026-06-{d:02d}", 1, 400.0, 450.0, 400.0 * d, 12000.0, 10, d % 3)
            for d in range(1, 31)
        ],
        "alerts": [
            finops.AlertRow("2026-06-10T10:00:00Z", "forecast", 4000, 12000, "c"),
            finops.AlertRow("2026-06-24T08:00:00Z", "threshold_80", 9600, 12000, "d"),
            finops.AlertRow("2026-06-29T10:00:00Z", finops.CAP_EXHAUSTED, 11990, 12000, ""),
        ],
        "reservations": [
            concurrency.ReservationAttempt(
                T, n, "day:2026-06-15", "held" if n < 10 else "refused", 0.5, 444.0, 450.0
            )
            for n in range(64)
        ],
        "store_total_eur": 449.0,
        "package_markdown": "# Package report\n",
        "package_summary": {"summary": {"total": 1, "verified": 1}, "runs": []},
        "residency_row": "openai,eu,eu.api.openai.com,true,compliant",
    }


def chart_rows() -> EvidenceRows:
    """Rows for every file, with every category the charts know."""
    failover = [
        *failover_outcomes(T, tried=("anthropic", "openai"), final="openai", error="", count=6),
        *failover_outcomes(T, tried=("anthropic", "local"), final="", error="down", count=2),
        router.FailoverOutcome(
            T, "ok1", "coding", "openai", False, ("openai",), 1, True, "openai", 3.0, "", True
        ),
    ]
    latency = [
        state.LatencySample(T, op, base_ms * (1 + i / 10), 1, "hit")
        for i in range(40)
        for op, base_ms in (("get", 0.05), ("save", 1.0), ("ledger_append", 2.0))
    ]
    decisions = [
        router.RoutingDecision(T, task, "anthropic", "anthropic", "{}", 0.2 + i / 50, True)
        for i in range(35)
        for task in ("coding", "summary")
    ]
    return EvidenceRows(
        failover=failover,
        deliveries=deliveries(),
        latency=latency,
        decisions=decisions,
        scenarios=_scenarios(),
        budget_windows=[
            finops.BudgetWindow("day:2026-06-01", 450.0, 400.0, 0.0),
            finops.BudgetWindow("month:2026-06", 12000.0, 400.0, 0.0),
        ],
        **_others(),
    )


def write_report_tree(root: Path, *, run_id: str = RUN) -> dict[str, Any]:
    """Write the tree under ``root`` for ``run_id`` and its gate JSON; returns the gate."""
    lay = EvidenceLayout(root)
    write_evidence_tree(lay, chart_rows(), run_id=run_id, at=T, backends={"database": "sqlite"})
    contract = load_contract(project_root() / DEFAULT_CONTRACT)
    gate = compute_gate(GateRun(root, root, run_id, T), contract)
    write_gate(root, gate)
    return gate
