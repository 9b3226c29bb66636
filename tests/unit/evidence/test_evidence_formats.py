"""Evidence formats: written statistics recompute from the samples; edits are detected."""

from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence.formats import (
    NOT_MEASURED,
    concurrency,
    finops,
    guard,
    orchestration,
    state,
)
from agent_platform.evidence.formats.router import (
    accuracy_figures,
    consistency,
    write_decisions,
)
from agent_platform.stats import percentile
from tests.support.evidence import hindsight_decisions


def samples(n: int = 40) -> list[state.LatencySample]:
    out = []
    for i in range(n):
        out.append(
            state.LatencySample(
                "2026-01-01T00:00:00Z", "get", 0.1 + i / 100, 1 + i % 2, "hit" if i % 10 else "miss"
            )
        )
        out.append(
            state.LatencySample("2026-01-01T00:00:00Z", "save", 1.0 + i / 10, 1 + i % 2, "ok")
        )
    return out


def test_state_figures_recompute_from_the_written_samples(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    data = samples()
    state.write(path, data, "2026-01-01T00:01:00Z")
    figures = state.figures(path)
    gets = [round(s.latency_ms, 4) for s in data if s.operation == "get"]
    assert figures["get_latency_p95_ms"] == pytest.approx(round(percentile(gets, 95), 4))
    assert figures["cache_hit_ratio"] == pytest.approx(0.9)
    assert figures["ledger_append_latency_p95_ms"] == NOT_MEASURED
    assert state.consistency(path) == []


def test_an_edited_statistic_row_is_found(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    state.write(path, samples(), "2026-01-01T00:01:00Z")
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if ",p95,all," in line)
    cells = lines[index].split(",")
    cells[2] = "0.0001"
    lines[index] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert any("p95" in problem for problem in state.consistency(path))


def test_a_correct_cell_that_contradicts_its_providers_is_found(tmp_path: Path) -> None:
    acc, lat = tmp_path / "a.csv", tmp_path / "l.csv"
    decisions = [
        *hindsight_decisions("t", pick="anthropic", count=1),
        *hindsight_decisions("t", pick="openai", count=1),
    ]
    write_decisions(acc, lat, decisions, "t")
    assert accuracy_figures(acc)["routing_accuracy"] == 0.5
    acc.write_text(acc.read_text().replace("openai,false", "openai,true"))
    assert consistency(acc, lat)


def test_budget_breaches_and_lead_time(tmp_path: Path) -> None:
    report, alerts = tmp_path / "r.csv", tmp_path / "a.csv"
    finops.write_report(
        report,
        [
            finops.BudgetDay("2026-06-01", 1, 400, 450, 400, 12000, 10, 0),
            finops.BudgetDay("2026-06-02", 1, 451, 450, 851, 12000, 10, 0),
        ],
    )
    finops.write_alerts(
        alerts,
        [
            finops.AlertRow("2026-06-01T10:00:00Z", "forecast", 100, 12000, "c1"),
            finops.AlertRow("2026-06-03T10:00:00Z", finops.CAP_EXHAUSTED, 11999, 12000, ""),
        ],
    )
    finops.write_windows(
        finops.windows_path(report),
        [
            finops.BudgetWindow("day:2026-06-01", 450.0, 400.0, 0.0),
            finops.BudgetWindow("day:2026-06-02", 450.0, 451.0, 0.0),
            finops.BudgetWindow("month:2026-06", 12000.0, 851.0, 0.0),
        ],
    )
    assert finops.report_figures(report)["budget_breaches"] == 1
    assert finops.alert_figures(alerts)["alert_lead_time_hours"] == 48.0
    assert finops.report_caps(report) == {(1, 450.0, 12000.0)}


def test_a_missing_column_is_an_evidence_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("timestamp,operation\n")
    with pytest.raises(EvidenceError, match="missing columns"):
        state.figures(path)


def _alerts(path: Path, rows: list[finops.AlertRow]) -> dict[str, float | int | str]:
    finops.write_alerts(path, rows)
    return finops.alert_figures(path)


def test_lead_time_is_measured_from_the_forecast_to_the_first_cap_refusal(tmp_path: Path) -> None:
    figures = _alerts(
        tmp_path / "a.csv",
        [
            finops.AlertRow(
                "2026-06-02T09:00:00Z", "forecast", 500, 12000, "c", "2026-06-28T00:00:00Z"
            ),
            finops.AlertRow("2026-06-23T09:00:00Z", "threshold_80", 9600, 12000, "d"),
            finops.AlertRow("2026-06-29T09:00:00Z", finops.CAP_EXHAUSTED, 11999, 12000, ""),
        ],
    )
    assert figures["alert_lead_time_hours"] == 27 * 24.0
    assert figures["alert_lead_time_basis"] == "observed_refusal"
    assert figures["threshold_lead_time_hours"] == 6 * 24.0


def test_without_a_refusal_the_lead_time_is_not_measured_and_the_projection_apart(
    tmp_path: Path,
) -> None:
    forecast = finops.AlertRow(
        "2026-06-02T09:00:00Z", "forecast", 500, 12000, "c", "2026-06-03T21:00:00Z"
    )
    figures = _alerts(tmp_path / "a.csv", [forecast])
    assert figures["alert_lead_time_hours"] == NOT_MEASURED
    assert figures["projected_lead_time_hours"] == 36.0
    threshold_only = finops.AlertRow("2026-06-23T09:00:00Z", "threshold_80", 9600, 12000, "d")
    figures = _alerts(tmp_path / "b.csv", [threshold_only])
    assert figures["alert_lead_time_hours"] == NOT_MEASURED


def test_the_warm_up_run_is_reported_apart_from_the_loop_latency(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    nodes = ("planner", "coder", "critic", "qa", "approver")

    def run(latency: float, warmup: bool) -> orchestration.ScenarioRun:
        return orchestration.ScenarioRun(
            "t", "s", nodes, nodes, 0, "approved", "approved", False, False, latency, True, warmup
        )

    corpus = tmp_path / "g.csv"
    guard.write(corpus, [])
    orchestration.write(path, [run(26000.0, True), run(300.0, False), run(310.0, False)])
    figures = orchestration.figures(path, corpus)
    assert figures["cold_start_ms"] == 26000.0
    assert figures["graph_loop_latency_p95_ms"] < 311.0
    assert figures["graph_loop_latency_p95_ms__n"] == figures["measured_runs"] == 2
    orchestration.write(path, [run(26000.0, True)])
    assert orchestration.figures(path, corpus)["graph_loop_latency_p95_ms"] == NOT_MEASURED


def _burst(path: Path, held: int, store_total: float) -> None:
    attempts = [
        concurrency.ReservationAttempt(
            "t", n, "day:2026-06-15", "held" if n < held else "refused", 0.5, 445.0, 450.0
        )
        for n in range(64)
    ]
    concurrency.write(path, attempts, store_total, "t")


def test_concurrent_holds_within_the_cap_are_not_a_breach(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    _burst(path, 10, 450.0)
    figures = concurrency.figures(path)
    assert figures["concurrent_budget_breaches"] == 0
    assert (figures["concurrent_held"], figures["concurrent_refused"]) == (10, 54)
    assert concurrency.consistency(path) == []


def test_holds_past_the_cap_or_a_store_total_that_disagrees_are_found(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    _burst(path, 11, 450.5)
    assert concurrency.figures(path)["concurrent_budget_breaches"] == 2
    _burst(path, 10, 449.0)
    assert concurrency.consistency(path) != []
