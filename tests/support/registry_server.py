"""A loopback stand-in for PyPI, the npm registry and the OSV API, serving fixture documents.

It speaks the published shapes: PyPI's project document at ``/pypi/NAME/json`` (the per-version
endpoint answers 404, as it does on this machine's PyPI mirror path), npm's package document at
``/NAME`` (scoped names as ``/@scope%2fname``), OSV's ``POST /v1/querybatch`` and
``GET /v1/vulns/ID``. The OSV side matches a query against each record's explicit ``versions``
list only: it is a fixture server, not a second implementation of range evaluation.

Faults: ``fail(prefix, status)`` makes every path starting with ``prefix`` answer ``status``.
Every request is counted in ``hits`` (path -> count) and every querybatch size in
``batch_sizes``, so tests can assert what the client asked.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from agent_platform._loopback import BackgroundServer, free_port, serve_in_background

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "supply_chain"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_fixture_documents() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(pypi by normalised name, npm by name, OSV records) from tests/fixtures/supply_chain."""
    pypi = {
        _normalize(p.stem): json.loads(p.read_text()) for p in (FIXTURES / "pypi").glob("*.json")
    }
    npm = {
        p.stem.replace("__", "/"): json.loads(p.read_text())
        for p in (FIXTURES / "npm").glob("*.json")
    }
    osv = [json.loads(p.read_text()) for p in sorted((FIXTURES / "osv").glob("*.json"))]
    return pypi, npm, osv


class RegistryServer:
    """The server; use :func:`registry_server` to run one for the duration of a test."""

    def __init__(
        self, pypi: dict[str, Any], npm: dict[str, Any], osv: list[dict[str, Any]]
    ) -> None:
        self.pypi = pypi
        self.npm = npm
        self.osv = {record["id"]: record for record in osv}
        self.hits: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self._faults: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._serving: BackgroundServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> None:
        self._serving = serve_in_background(self._httpd)

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.close(join_timeout=5)
            self._serving = None

    def fail(self, prefix: str, status: int) -> None:
        """Answer ``status`` for every path starting with ``prefix``."""
        with self._lock:
            self._faults[prefix] = status

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def do_GET(self) -> None:
                server._answer(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server._answer(self, self.rfile.read(length))

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.hits[path] += 1
            fault = next((s for p, s in self._faults.items() if path.startswith(p)), None)
        if fault is not None:
            self._send(handler, fault, {"message": f"injected status {fault}"})
            return
        status, payload = self._route(path, body)
        self._send(handler, status, payload)

    def _route(self, path: str, body: bytes | None) -> tuple[int, Any]:
        if body is not None:
            if path == "/v1/querybatch":
                return 200, self._querybatch(json.loads(body))
            return 404, {"message": "not found"}
        if path.startswith("/v1/vulns/"):
            record = self.osv.get(unquote(path.removeprefix("/v1/vulns/")))
            return (200, record) if record else (404, {"code": 5, "message": "Bug not found."})
        match = re.fullmatch(r"/pypi/([^/]+)/json", path)
        if match:
            doc = self.pypi.get(_normalize(unquote(match.group(1))))
            return (200, doc) if doc else (404, {"message": "Not Found"})
        doc = self.npm.get(unquote(path.lstrip("/")))
        return (200, doc) if doc else (404, {"error": "Not found"})

    def _querybatch(self, request: dict[str, Any]) -> dict[str, Any]:
        queries = request.get("queries", [])
        with self._lock:
            self.batch_sizes.append(len(queries))
        results = []
        for query in queries:
            package = query.get("package", {})
            vulns = [
                {"id": vid, "modified": record.get("modified", "")}
                for vid, record in self.osv.items()
                if self._affects(record, package, str(query.get("version", "")))
            ]
            results.append({"vulns": vulns} if vulns else {})
        return {"results": results}

    @staticmethod
    def _affects(record: dict[str, Any], package: dict[str, Any], version: str) -> bool:
        for affected in record.get("affected", []):
            pkg = affected.get("package", {})
            same = pkg.get("ecosystem") == package.get("ecosystem") and _normalize(
                pkg.get("name", "")
            ) == _normalize(package.get("name", ""))
            if same and version in affected.get("versions", []):
                return True
        return False

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def registry_server() -> Iterator[RegistryServer]:
    """A started server with the fixture documents; stopped on exit."""
    pypi, npm, osv = load_fixture_documents()
    server = RegistryServer(pypi, npm, osv)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def supply_chain_config(
    registry_url: str,
    cache_dir: Path,
    *,
    osv_url: str | None = None,
    offline_dir: Path | None = None,
    osv_enabled: bool = True,
    findings: dict[str, str] | None = None,
    min_release_age_days: float = 7.0,
    unknown_severity: str = "fail",
) -> Any:
    """A SupplyChainConfig aimed at the loopback server (no retries: failures are immediate)."""
    from agent_platform.schemas.supply_chain import SupplyChainConfig

    offline = []
    if offline_dir is not None:
        offline.append(
            {
                "name": "Fixture Advisory Snapshot",
                "ecosystem": "python",
                "path": str(offline_dir),
                "snapshot": "fixture1",
                "snapshot_date": "2024-10-10",
                "licence": "CC-BY 4.0",
            }
        )
    policy: dict[str, Any] = {"min_release_age_days": min_release_age_days}
    if findings is not None:
        policy["findings"] = findings
    return SupplyChainConfig.model_validate(
        {
            "registries": {
                "pypi_url": registry_url,
                "npm_url": registry_url,
                "timeout_s": 5,
                "max_concurrency": 4,
                "retries": 0,
            },
            "advisories": {
                "osv_enabled": osv_enabled,
                "osv_url": osv_url or registry_url,
                "osv_timeout_s": 5,
                "offline": offline,
                "unknown_severity": unknown_severity,
            },
            "cache": {"enabled": True, "dir": str(cache_dir), "ttl_hours": 1},
            "policy": policy,
            "typosquat": {
                "popular": {
                    "python": ["requests", "urllib3", "jinja2"],
                    "node": ["express", "lodash"],
                }
            },
        }
    )
