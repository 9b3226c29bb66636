"""The guard's dependency check against a loopback registry through the supply-chain client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent_platform.orchestration.guard import PolicyGuard
from agent_platform.orchestration.types import CodeBundle
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.schemas.supply_chain import RegistryConfig
from agent_platform.supply_chain.registry import RegistryClient


class _Registry(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/pypi/requests/json": 200, "/pypi/broken/json": 503}.get(self.path, 404)
        body = b'{"info": {"name": "requests"}, "releases": {}}' if status == 200 else b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def registry() -> Iterator[RegistryClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = RegistryClient(RegistryConfig(pypi_url=url, retries=0, timeout_s=5))
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_invented_and_unverifiable_dependencies_are_violations(registry):
    guard = PolicyGuard(load_agent_policy(), registry)
    bundle = CodeBundle(
        files={"m.py": "X = 1\n"}, dependencies=["requests>=2", "reqeusts-fast", "broken"]
    )
    report = await guard.check_output("coder", bundle)
    assert report.registry_lookups == {
        "python:requests": True,
        "python:reqeusts-fast": False,
        "python:broken": None,
    }
    details = sorted(v.detail for v in report.violations)
    assert details == [
        "broken: could not verify on python",
        "reqeusts-fast does not exist on python",
    ]
