"""The Markdown report and its JSON twin, rendered from run values alone."""

from __future__ import annotations

import datetime as dt
import json
import stat
from dataclasses import replace
from pathlib import Path

from agent_platform.config import project_root
from agent_platform.evidence.formats.compliance import package_figures
from agent_platform.supply_chain.lockfiles import parse_lockfile
from agent_platform.supply_chain.model import (
    Advisory,
    AdvisoryCheck,
    Finding,
    LockedPackage,
    PackageResult,
    RegistryAnswer,
    SnapshotUse,
    SourceInfo,
    VerificationRun,
)
from agent_platform.supply_chain.report import (
    count_blocking,
    headline,
    javascript_note,
    render_markdown,
    write_report,
)

SNAPSHOT = "Fixture DB snapshot abc of 2024-10-10"


def _run() -> VerificationRun:
    advisory = Advisory(
        "PYSEC-1",
        ("CVE-1",),
        "bad",
        "HIGH",
        "database_specific.severity",
        ("2.0",),
        SNAPSHOT,
        "listed version 1.0",
    )
    vulnerable = PackageResult(
        LockedPackage("python", "vuln", "1.0"),
        True,
        RegistryAnswer("found"),
        AdvisoryCheck(True, SNAPSHOT, (advisory,)),
        (Finding("too_young", "warn", "fresh"),),
        ("PYSEC-1",),
    )
    invented = PackageResult(
        LockedPackage("python", "invented", "0.1"),
        False,
        RegistryAnswer("unknown_package"),
        AdvisoryCheck(True, SNAPSHOT),
        (Finding("unknown_package", "fail", "unknown package: 404"),),
    )
    sources = (
        SourceInfo(
            "Fixture DB",
            "offline OSV snapshot",
            "/x",
            "2024-10-10",
            note=f"{SNAPSHOT}; knows nothing published after 2024-10-10",
            licence="CC-BY 4.0",
        ),
    )
    return VerificationRun(
        "python",
        "requirements.lock",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        1.5,
        (vulnerable, invented),
        sources,
        "MODERATE",
        "fail",
        7.0,
        ("OSV API unreachable",),
    )


def test_failing_run_names_reasons_sources_and_advisories() -> None:
    text = render_markdown([_run()], {"node": javascript_note(Path("/nonexistent"))})
    assert "| Status | **FAIL** |" in text and "| Unverified | 1 |" in text
    assert f"| 1 (source: {SNAPSHOT}) |" in text
    assert "Unverified packages by reason: unknown_package 1" in text
    assert "Warnings (do not fail): too_young 1" in text
    assert "| invented | 0.1 | **UNVERIFIED** |" in text
    assert (
        "| vuln | 1.0 | PYSEC-1 | CVE-1 | HIGH (database_specific.severity) | 2.0 | yes |" in text
    )
    assert "knows nothing published after 2024-10-10" in text and "CC-BY 4.0" in text
    assert "This project has no JavaScript dependencies" in text
    assert "- OSV API unreachable" in text


def test_json_twin_carries_the_same_figures(tmp_path: Path) -> None:
    markdown, twin = write_report([_run()], tmp_path / "r.md", {"node": "none"})
    data = json.loads(twin.read_text())
    assert (data["status"], data["total"], data["verified"], data["unverified"]) == (
        "FAIL",
        2,
        1,
        1,
    )
    assert (data["vulnerabilities"], data["blocking_vulnerabilities"]) == (1, 1)
    assert data["advisory_sources"] == SNAPSHOT
    assert data["runs"][0]["packages"][1]["findings"][0]["kind"] == "unknown_package"
    assert markdown.read_text().startswith("# Package Reality Report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in (markdown, twin)} == {0o644}


def test_javascript_note_distinguishes_lockfile_present(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("{}")
    assert "was not verified in this run" in javascript_note(tmp_path)


def _own_lockfile_run() -> VerificationRun:
    """A passing run over every pin of our own requirements.lock (values, no network)."""
    packages = parse_lockfile(project_root() / "requirements.lock", "python")
    check = AdvisoryCheck(True, SNAPSHOT)
    results = tuple(PackageResult(p, True, RegistryAnswer("found"), check) for p in packages)
    sources = (
        SourceInfo("PyPI JSON API", "registry", "https://pypi.org", "2026-01-01T00:00:00Z"),
        SourceInfo("Fixture DB", "offline OSV snapshot", "/x", "2024-10-10", note=SNAPSHOT),
    )
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return VerificationRun(
        "python", "requirements.lock", started, 2.0, results, sources, "MODERATE", "fail", 7.0
    )


def test_report_on_our_own_lockfile_has_the_four_sections_in_80_to_300_lines() -> None:
    run = _own_lockfile_run()
    text = render_markdown([run], {"node": javascript_note(project_root())})
    lines = text.splitlines()
    assert 80 <= len(lines) <= 300, f"{len(lines)} lines for {run.total} packages"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## Verification Summary",
        "## Python Dependencies",
        "## JavaScript Dependencies",
        "## Vulnerability Scan Results",
    ]
    assert f"| Total packages | {run.total} |" in text and "| Status | **PASS** |" in text
    assert "This project has no JavaScript dependencies" in text
    assert (
        sum(1 for line in lines if line.startswith("| ") and " | verified |" in line) == run.total
    )


def _stale_run() -> VerificationRun:
    """_run() relying on 2024-10-10 data judged on 2026-11-26, plus a newer release and a
    lockfile finding."""
    base = _run()
    newer = PackageResult(
        LockedPackage("python", "fresh", "9.0"),
        True,
        RegistryAnswer("found"),
        AdvisoryCheck(True, SNAPSHOT, snapshot_date=dt.date(2024, 10, 10)),
        (Finding("newer_than_snapshot", "warn", "released 2026-11-01, after the data"),),
    )
    use = SnapshotUse(SNAPSHOT, "python", dt.date(2024, 10, 10), 777, "ab" * 32, 30, "warn")
    warning = Finding("index_override", "warn", "requirements.lock:1: -f ./w lets pip ...")
    return replace(
        base, results=(*base.results, newer), snapshots=(use,), lockfile_findings=(warning,)
    )


def test_headline_carries_the_advisory_datas_date_age_hash_and_newer_packages() -> None:
    run = _stale_run()
    lines = headline([run])
    assert lines[0] == (
        "FAIL: 3 packages, 1 unverified, 1 vulnerabilities at or above the threshold. "
        "Warning: the offline advisory data is 777 days old."
    )
    assert lines[1] == (
        f"Advisory data: {SNAPSHOT}: dated 2024-10-10, 777 days old, STALE: older than the 30 "
        f"days allowed (advisories.on_stale_advisories: warn); sha256 {'ab' * 32}."
    )
    assert "Packages released after the advisory data that checked them: 1." in lines
    assert "Lockfile findings: 1 (0 failing the run)." in lines
    text = render_markdown([run], {})
    assert text.startswith(f"# Package Reality Report\n\n**{lines[0]}**\n\n{lines[1]}\n")
    assert "| Advisory data SHA-256 | " + "ab" * 32 + " |" in text
    assert "| Packages newer than the advisory data | 1 |" in text


def test_the_gate_counts_what_the_report_counts(tmp_path: Path) -> None:
    run = _stale_run()
    _, twin = write_report([run], tmp_path / "report.md", {})
    data = json.loads(twin.read_text())
    records = [p for r in data["runs"] for p in r["packages"]]
    assert data["blocking_vulnerabilities"] == count_blocking(records) == 1
    assert run.blocking_vulnerabilities == 1
    figures = package_figures(twin)
    assert figures["blocking_vulnerabilities"] == data["blocking_vulnerabilities"]
    assert figures["packages_newer_than_snapshot"] == 1
    assert (figures["advisory_snapshot_date"], figures["advisory_snapshot_age_days"]) == (
        "2024-10-10",
        777,
    )
    assert figures["advisory_snapshot_sha256"] == "ab" * 32
    assert figures["advisory_snapshot_stale"] == "yes"
    assert figures["summary_mismatches"] == "none"


def test_gate_figures_refuse_what_they_cannot_prove(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"total": 0, "vulnerabilities": 0, "runs": [{"packages": []}]}))
    assert package_figures(path)["blocking_vulnerabilities"] == "NOT_MEASURED"
    records = [{"name": "a", "verified": True}]  # written without blocking_advisories
    path.write_text(json.dumps({"vulnerabilities": 2, "runs": [{"packages": records}]}))
    figures = package_figures(path)
    assert figures["blocking_vulnerabilities"] == "NOT_MEASURED"
    assert figures["advisory_snapshot_date"] == "NOT_MEASURED"
    path.write_text(json.dumps({"vulnerabilities": 0, "runs": [{"packages": records}]}))
    assert package_figures(path)["blocking_vulnerabilities"] == 0  # nothing affects anything
    edited = [{"name": "a", "verified": True, "blocking_advisories": ["X-1"], "findings": []}]
    path.write_text(
        json.dumps(
            {
                "blocking_vulnerabilities": 0,
                "advisory_snapshot": None,
                "runs": [{"packages": edited}],
            }
        )
    )
    figures = package_figures(path)
    assert figures["blocking_vulnerabilities"] == 1
    assert "blocking_vulnerabilities" in str(figures["summary_mismatches"])
    assert figures["advisory_snapshot_date"] == "not used: the OSV API answered"
