"""The project's own advisory snapshot: committed, hashed, deterministic, and self-contained."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_platform.config import project_root
from agent_platform.errors import SupplyChainError
from agent_platform.supply_chain.snapshot import PACKAGED_SNAPSHOT, SnapshotAdvisoryDB
from agent_platform.supply_chain.snapshot_build import render_notice
from agent_platform.supply_chain.snapshot_format import (
    MANIFEST,
    compact_record,
    read_manifest,
    read_records,
)

ROOT = project_root()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "supply_chain"
SCRIPT = ROOT / "scripts/build_advisory_snapshot.py"


def test_the_committed_snapshot_matches_its_manifest_and_loads() -> None:
    (entry,) = read_manifest(PACKAGED_SNAPSHOT).values()
    data = (PACKAGED_SNAPSHOT / entry.file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    records = read_records(PACKAGED_SNAPSHOT, entry)
    assert len(records) == entry.records > 2000
    assert (entry.ecosystem, entry.source_commit, entry.snapshot_date.isoformat()) == (
        "python",
        "3ccb612573e2511ab5cad7dafecd838605c80cda",
        "2024-10-10",
    )
    assert (
        entry.licence == "CC-BY 4.0" and "Python Packaging Advisory Database" in entry.attribution
    )
    requests = SnapshotAdvisoryDB(PACKAGED_SNAPSHOT, "python").lookup("Requests", "2.19.1")
    assert {"PYSEC-2018-28", "PYSEC-2023-74"} <= {a.id for a in requests}


def test_the_snapshot_folder_is_small_and_carries_its_licence_and_attribution() -> None:
    files = sorted(p.name for p in PACKAGED_SNAPSHOT.iterdir())
    (data,) = [name for name in files if name.endswith(".jsonl.gz")]
    assert files == sorted(["LICENSE", "NOTICE.md", MANIFEST, data])
    assert sum(p.stat().st_size for p in PACKAGED_SNAPSHOT.iterdir()) < 3 * 1024 * 1024
    assert "Attribution 4.0 International" in (PACKAGED_SNAPSHOT / "LICENSE").read_text()
    assert (PACKAGED_SNAPSHOT / "NOTICE.md").read_text() == render_notice(PACKAGED_SNAPSHOT)


def _build(source: Path, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(source), "--dir", str(folder), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_build_is_deterministic_and_names_its_source(tmp_path: Path) -> None:
    facts = ("--commit", "f1x7", "--date", "2024-10-10", "--json")
    first, second = _build(FIXTURES / "offline", tmp_path / "a", *facts), None
    assert first.returncode == 0, first.stderr
    second = _build(FIXTURES / "offline", tmp_path / "b", *facts)
    assert second.returncode == 0, second.stderr
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    result = json.loads(first.stdout)
    data = (tmp_path / "a" / result["entry"]["file"]).read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # no modification time in the gzip header
    lines = gzip.decompress(data).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["PYSEC-TEST-2019-1", "PYSEC-TEST-2024-9"]
    assert result["entry"]["source_commit"] == "f1x7" and result["entry"]["records"] == 2


def test_the_build_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    no_facts = _build(FIXTURES / "offline", tmp_path / "out")
    assert no_facts.returncode == 2 and "give --commit and --date" in no_facts.stderr
    bad_date = _build(FIXTURES / "offline", tmp_path / "out", "--commit", "x", "--date", "soon")
    assert bad_date.returncode == 2 and "--date 'soon'" in bad_date.stderr
    missing = _build(
        tmp_path / "nowhere", tmp_path / "out", "--commit", "x", "--date", "2024-01-01"
    )
    assert missing.returncode == 2 and "not a directory of OSV records" in missing.stderr
    for run in (no_facts, bad_date, missing):
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_compact_records_keep_only_what_the_matcher_reads() -> None:
    record = {
        "id": "GHSA-x",
        "details": "First line.\nMore detail nobody reads.",
        "aliases": ["CVE-1"],
        "references": [{"type": "WEB", "url": "https://example.org"}],
        "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-79"]},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pkg", "purl": "pkg:pypi/pkg"},
                "ranges": [
                    {"type": "GIT", "repo": "r", "events": [{"introduced": "0"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]},
                ],
                "versions": ["1.0", "1.1"],
            },
            {"package": {"ecosystem": "npm", "name": "pkg"}, "versions": ["9"]},
        ],
        "modified": "2024-01-02T00:00:00Z",
    }
    assert compact_record(record, "PyPI") == {
        "id": "GHSA-x",
        "summary": "First line.",
        "aliases": ["CVE-1"],
        "database_specific": {"severity": "HIGH"},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]}
                ],
                "versions": ["1.0", "1.1"],
            }
        ],
        "modified": "2024-01-02T00:00:00Z",
    }
    assert compact_record(record, "Go") is None


def test_a_missing_or_foreign_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SupplyChainError, match=r"manifest .* does not exist"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 99, "ecosystems": {}}))
    with pytest.raises(SupplyChainError, match="format 99 is not 1"):
        read_manifest(tmp_path)


def test_nothing_in_the_project_reads_the_build_machines_shared_folder() -> None:
    needles = ("../" + "shared", "/work/" + "shared")
    folders = ("agent_platform", "assets", "jobs", "scripts", "bench", "configs", "tests")
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for folder in folders
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json", ".sh")
        for needle in needles
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []
