"""``agent-platform advisories update|show`` against a real HTTP server on loopback.

The server serves zips built here in OSV's bulk-export layout (``/PyPI/all.zip``,
``/npm/all.zip``). Covers: a successful update swapping in both ecosystems (manifest, hash,
old file gone, look-ups answered from the new data); an unreachable export (one line, exit 1,
snapshot untouched); downloads refused as not a sane export (not a zip, the wrong ecosystem,
too few records), each leaving the snapshot untouched; ``show`` and ``--json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_platform._loopback import serve_in_background
from agent_platform.cli import main
from agent_platform.supply_chain.snapshot import PACKAGED_SNAPSHOT, SnapshotAdvisoryDB
from agent_platform.supply_chain.snapshot_format import read_manifest
from tests.support.registry_server import closed_port_url


def _record(ecosystem: str, name: str, index: int) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": f"GHSA-test-{ecosystem.lower()}-{index:04d}",
        "modified": "2026-12-01T00:00:00Z",
        "summary": f"fixture advisory {index}",
        "aliases": [f"CVE-2026-{index:05d}"],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}
                ],
                "database_specific": {"source": "fixture"},
            }
        ],
        "database_specific": {"severity": "HIGH"},
    }


def _zip(records: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


class ExportServer:
    """Serves ``self.files`` (path -> bytes); anything else answers 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def export() -> Iterator[ExportServer]:
    server = ExportServer()
    running = serve_in_background(server.httpd)
    try:
        yield server
    finally:
        running.close(join_timeout=5)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    folder = tmp_path / "advisories"
    shutil.copytree(PACKAGED_SNAPSHOT, folder)
    return folder


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _update(folder: Path, base_url: str, *extra: str) -> int:
    return main(["advisories", "update", "--dir", str(folder), "--base-url", base_url, *extra])


def test_update_swaps_in_both_ecosystems_from_the_bulk_export(
    export: ExportServer, snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export.files["/PyPI/all.zip"] = _zip([_record("PyPI", "demo-lib", i) for i in range(1400)])
    export.files["/npm/all.zip"] = _zip([_record("npm", "demo-js", i) for i in range(5)])
    (old_file,) = snapshot.glob("pypi-*.jsonl.gz")
    assert _update(snapshot, export.url, "--min-records", "3", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reachable"] is True and sorted(result["updated"]) == ["node", "python"]
    manifest = read_manifest(snapshot)
    today = dt.datetime.now(dt.UTC).date()
    for eco, count, stem in (("python", 1400, "PyPI"), ("node", 5, "npm")):
        entry = manifest[eco]
        assert (entry.source, entry.records, entry.snapshot_date) == (
            "OSV bulk export",
            count,
            today,
        )
        assert entry.source_url == f"{export.url}/{stem}/all.zip"
        data = (snapshot / entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert not old_file.exists()
    found = SnapshotAdvisoryDB(snapshot, "node").lookup("demo-js", "1.5.0")
    assert [a.id for a in found] == [f"GHSA-test-npm-{i:04d}" for i in range(5)]
    assert found[0].source == f"OSV bulk export snapshot of {today.isoformat()}"
    assert "OSV bulk export" in (snapshot / "NOTICE.md").read_text()


def test_an_unreachable_export_says_so_in_one_line_and_keeps_the_snapshot(
    snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(snapshot)
    assert _update(snapshot, closed_port_url()) == 1
    captured = capsys.readouterr()
    (line,) = captured.out.strip().splitlines()
    assert "OSV bulk export not reachable" in line and "(ConnectError)" in line
    assert "kept the current snapshot (python: Python Packaging Advisory Database snapshot" in line
    assert "Traceback" not in captured.err
    assert _tree(snapshot) == before
    assert _update(snapshot, closed_port_url(), "--json") == 1
    assert json.loads(capsys.readouterr().out)["reachable"] is False


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>not a zip</html>", "not a zip archive"),
        (_zip([_record("npm", "x", i) for i in range(20)]), "affect no PyPI package"),
        (_zip([_record("PyPI", "x", i) for i in range(2)]), "holds 2 PyPI records, fewer than"),
    ],
    ids=["not-a-zip", "wrong-ecosystem", "too-few"],
)
def test_an_insane_export_is_refused_and_the_snapshot_kept(
    export: ExportServer,
    snapshot: Path,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    fragment: str,
) -> None:
    export.files["/PyPI/all.zip"] = body
    before = _tree(snapshot)
    assert _update(snapshot, export.url, "--ecosystem", "python", "--min-records", "3") == 1
    assert fragment in capsys.readouterr().out
    assert _tree(snapshot) == before


def test_half_the_current_records_are_needed_to_replace_them(
    export: ExportServer, snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export.files["/PyPI/all.zip"] = _zip([_record("PyPI", "x", i) for i in range(100)])
    assert _update(snapshot, export.url, "--ecosystem", "python", "--min-records", "3") == 1
    assert "fewer than the 1330 required" in capsys.readouterr().out


def test_show_reports_date_age_hash_and_staleness(
    snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["advisories", "show", "--dir", str(snapshot), "--json"]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    python = shown["ecosystems"]["python"]
    assert python["snapshot_date"] == "2024-10-10" and python["records"] == 2661
    assert python["age_days"] == (dt.datetime.now(dt.UTC).date() - dt.date(2024, 10, 10)).days
    assert "STALE" in captured.err and python["sha256"] in captured.err
