"""The guard's dependency check against a loopback registry through the supply-chain client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_platform.orchestration.guard import PolicyGuard
from agent_platform.orchestration.types import CodeBundle
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.schemas.supply_chain import RegistryConfig
from agent_platform.supply_chain.registry import RegistryClient
from tests.support.registry_server import registry_server


@pytest.fixture
def registry() -> Iterator[RegistryClient]:
    with registry_server() as server:
        server.fail("/pypi/broken/json", 503)
        client = RegistryClient(RegistryConfig(pypi_url=server.url, retries=0, timeout_s=5))
        try:
            yield client
        finally:
            client.close()


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
