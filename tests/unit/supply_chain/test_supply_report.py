"""The Markdown report and its JSON twin, rendered from run values alone."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

from agent_platform.config import project_root
from agent_platform.supply_chain.lockfiles import parse_lockfile
from agent_platform.supply_chain.model import (
    Advisory,
    AdvisoryCheck,
    Finding,
    LockedPackage,
    PackageResult,
    RegistryAnswer,
    SourceInfo,
    VerificationRun,
)
from agent_platform.supply_chain.report import javascript_note, render_markdown, write_report

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
