"""Evidence figures that must not overstate: observed lead times, every published pair,
scripted-only conformance, package counts recomputed from the per-package records."""

import json
from pathlib import Path

from agent_platform.evidence.formats import NOT_MEASURED, compliance, finops, orchestration
from agent_platform.evidence.formats.notifications import PENDING, DeliveryRow, figures, write

T = "2026-06-01T10:00:00Z"


def test_a_projected_lead_time_is_reported_apart_and_never_as_the_lead_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.csv"
    finops.write_alerts(
        path,
        [
            finops.AlertRow(
                "2026-06-02T09:00:00Z", "forecast", 500, 12000, "c", "2026-06-03T21:00:00Z"
            ),
            finops.AlertRow("2026-06-23T09:00:00Z", "threshold_80", 9600, 12000, "d"),
        ],
    )
    got = finops.alert_figures(path)
    assert got["alert_lead_time_hours"] == NOT_MEASURED
    assert got["alert_lead_time_basis"] == NOT_MEASURED
    assert got["projected_lead_time_hours"] == 36.0
    assert got["threshold_lead_time_hours"] == NOT_MEASURED
    assert "not measured" in finops.lead_time_label(got["alert_lead_time_basis"])


def test_observed_lead_times_run_from_each_alert_to_the_first_cap_refusal(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    finops.write_alerts(
        path,
        [
            finops.AlertRow(
                "2026-06-02T09:00:00Z", "forecast", 500, 12000, "c", "2026-06-28T09:00:00Z"
            ),
            finops.AlertRow("2026-06-23T09:00:00Z", "threshold_80", 9600, 12000, "d"),
            finops.AlertRow("2026-06-29T21:00:00Z", finops.CAP_EXHAUSTED, 11999, 12000, ""),
        ],
    )
    got = finops.alert_figures(path)
    assert got["alert_lead_time_hours"] == 27 * 24.0 + 12
    assert got["projected_lead_time_hours"] == 26 * 24.0
    assert got["threshold_lead_time_hours"] == 6 * 24.0 + 12
    assert "refusal" in finops.lead_time_label(got["alert_lead_time_basis"])


def _row(nid: str, dest: str, status: str, captured: str, published: str) -> DeliveryRow:
    attempt = 0 if status == PENDING else 1
    return DeliveryRow(T, dest, captured, status, 2.0, attempt, nid, "webhook", 9.0, published)


def test_never_attempted_pairs_count_against_success_and_coverage(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    rows = [_row(f"n{i}", "hook", "delivered", f"c{i}", f"c{i}") for i in range(3)]
    rows.append(_row("n3", "hook", PENDING, "", "c3"))
    write(path, rows)
    got = figures(path)
    assert got["delivery_success_rate"] == 0.75
    assert got["correlation_id_coverage"] == 0.75
    assert (got["notifications"], got["pending_pairs"], got["attempts"]) == (4, 1, 3)
    pending_line = path.read_text().splitlines()[-1]
    assert ",pending,," in pending_line  # no latency is written for a pair never attempted


def test_coverage_counts_only_ids_the_receiver_captured_as_published(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write(
        path,
        [
            _row("n0", "hook", "delivered", "c0", "c0"),
            _row("n1", "hook", "delivered", "", "c1"),
            _row("n2", "hook", "delivered", "c9", "c2"),
            _row("n3", "hook", "delivered", "c3", "c3"),
        ],
    )
    got = figures(path)
    assert got["delivery_success_rate"] == 1.0
    assert got["correlation_id_coverage"] == 0.5


def _scenario(
    expected_order: tuple[str, ...], decision: str, expected: str
) -> orchestration.ScenarioRun:
    return orchestration.ScenarioRun(
        T,
        "s",
        ("planner", "coder"),
        expected_order,
        0,
        decision,
        expected,
        False,
        False,
        10.0,
        True,
    )


def test_unscripted_runs_are_excluded_from_conformance(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    star = (orchestration.UNSCRIPTED,)
    orchestration.write(
        path,
        [
            _scenario(star, "approved", orchestration.UNSCRIPTED),
            _scenario(star, "rejected", "approved"),
            _scenario(("planner", "coder"), "approved", orchestration.UNSCRIPTED),
        ],
    )
    got = orchestration.figures(path)
    assert got["scenario_conformance"] == 0.5
    assert got["unscripted_runs"] == 1
    orchestration.write(path, [_scenario(star, "approved", orchestration.UNSCRIPTED)])
    assert orchestration.figures(path)["scenario_conformance"] == NOT_MEASURED


def _packages(path: Path, summary: dict[str, int], verified: list[bool]) -> None:
    packages = [{"name": f"p{i}", "verified": v} for i, v in enumerate(verified)]
    path.write_text(
        json.dumps({**summary, "execution_seconds": 6.0, "runs": [{"packages": packages}]})
    )


def test_package_counts_come_from_the_records_not_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    _packages(
        path,
        {"total": 3, "verified": 3, "unverified": 0, "vulnerabilities": 0},
        [True, False, True],
    )
    got = compliance.package_figures(path)
    assert (got["total_dependencies"], got["verified_dependencies"]) == (3, 2)
    assert got["unverified_dependencies"] == 1
    assert got["summary_mismatches"] == "verified, unverified"
    assert got["verification_minutes"] == 0.1


def test_a_report_without_package_records_cannot_pass(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    _packages(path, {"total": 0, "verified": 0, "unverified": 0, "vulnerabilities": 0}, [])
    got = compliance.package_figures(path)
    assert got["total_dependencies"] == 0
    assert got["unverified_dependencies"] == NOT_MEASURED
