"""Evidence formats: written statistics recompute from the samples; edits are detected."""

from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence.formats import NOT_MEASURED, finops, state
from agent_platform.evidence.formats.router import (
    RoutingDecision,
    accuracy_figures,
    consistency,
    write_decisions,
)
from agent_platform.stats import percentile


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
        RoutingDecision("t", "coding", "anthropic", p, "{}", 0.2, True)
        for p in ("anthropic", "openai")
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
    assert finops.report_figures(report)["budget_breaches"] == 1
    assert finops.alert_figures(alerts)["alert_lead_time_hours"] == 48.0
    assert finops.report_caps(report) == {(1, 450.0, 12000.0)}


def test_a_missing_column_is_an_evidence_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("timestamp,operation\n")
    with pytest.raises(EvidenceError, match="missing columns"):
        state.figures(path)
