"""Every threshold check of the contract fails when it is fed a bad measurement."""

import pytest

from agent_platform.config import project_root
from agent_platform.evidence.contract_model import Threshold, load_contract
from agent_platform.evidence.figures import workload_figures
from agent_platform.evidence.formats import (
    concurrency,
    finops,
    guard,
    notifications,
    orchestration,
    state,
)
from agent_platform.evidence.layout import WORKLOADS, EvidenceLayout
from assets._checks import evaluate_threshold
from tests.support.evidence import (
    EvidenceRows,
    failover_outcomes,
    hindsight_decisions,
    write_evidence_tree,
)

RUN = "bad-run"
T = "2026-06-01T10:00:00Z"
CONTRACT = load_contract(project_root() / "contracts/phase_1_core_architecture.contract.json")


def _bad_rows() -> EvidenceRows:
    """Files whose every figure misses its threshold."""
    return EvidenceRows(
        latency=[
            state.LatencySample(T, op, 500.0 + i, 1, "miss")
            for i in range(30)
            for op in ("get", "save", "ledger_append")
        ],
        decisions=hindsight_decisions(T, pick="openai", decision_ms=300.0),
        failover=failover_outcomes(T, tried=("anthropic",), final="", error="500"),
        deliveries=[
            notifications.DeliveryRow(
                T,
                "hook",
                "",
                "failed" if i % 2 else "delivered",
                3.0,
                1,
                f"n{i}",
                "webhook",
                9000.0,
            )
            for i in range(30)
        ],
        budget_days=[finops.BudgetDay("2026-06-01", 1, 460.0, 450.0, 460.0, 12000.0, 9, 0)],
        alerts=[
            finops.AlertRow("2026-06-10T10:00:00Z", "threshold_80", 9600, 12000, "c"),
            finops.AlertRow("2026-06-10T12:00:00Z", finops.CAP_EXHAUSTED, 11990, 12000, ""),
        ],
        reservations=[
            concurrency.ReservationAttempt(T, n, "day:2026-06-01", "held", 1.0, 445.0, 450.0)
            for n in range(10)
        ],
        store_total_eur=455.0,
        scenarios=[
            orchestration.ScenarioRun(
                T,
                "violation",
                ("planner", "coder"),
                ("planner",),
                0,
                "approved",
                "rejected",
                True,
                False,
                4000.0,
                True,
            )
        ],
        package_markdown="# report\n",
        package_summary={
            "total": 5,
            "verified": 3,
            "unverified": 2,
            "vulnerabilities": 0,
            "execution_seconds": 600,
        },
        residency_row="openai,us,api.openai.com,false,not EU",
        budget_windows=[finops.BudgetWindow("day:2026-06-01", 450.0, 460.0, 0.0)],
        guard_cases=[
            guard.GuardCase(T, "missed", "bundle", "forbidden_call", ()),
            guard.GuardCase(T, "flagged", "bundle", None, ("stub_body",)),
        ],
    )


@pytest.fixture(scope="module")
def bad_layout(tmp_path_factory: pytest.TempPathFactory) -> EvidenceLayout:
    lay = EvidenceLayout(tmp_path_factory.mktemp("bad"))
    write_evidence_tree(lay, _bad_rows(), run_id=RUN, at=T, backends={})
    return lay


def _workload_of(lay: EvidenceLayout, threshold: Threshold) -> str:
    for work in WORKLOADS:
        if work.subsystem == threshold.subsystem and threshold.figure in workload_figures(
            lay, work.name
        ):
            return work.name
    raise AssertionError(f"no workload reports {threshold.figure}")


@pytest.mark.parametrize("threshold", CONTRACT.metric_thresholds, ids=lambda t: t.figure)
def test_each_check_fails_on_a_bad_measurement(
    bad_layout: EvidenceLayout, threshold: Threshold
) -> None:
    result = evaluate_threshold(bad_layout, RUN, _workload_of(bad_layout, threshold), threshold)
    assert result.passed is False
    assert result.metadata["threshold"].value == threshold.describe()


def test_a_check_on_files_from_another_run_is_not_measured(bad_layout: EvidenceLayout) -> None:
    threshold = CONTRACT.threshold("state_fabric", "get_latency_p95_ms")
    result = evaluate_threshold(bad_layout, "some-other-run", "state_fabric", threshold)
    assert result.passed is False
    assert "not from this run" in result.metadata["not measured because"].value
