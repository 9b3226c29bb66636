"""The adapter's direct route against loopback servers: the request litellm would send, the
answer's usage, and every failure mapped to the ProviderError kind the litellm path gives.

A capturing server records the raw requests of both routes (litellm.acompletion and the direct
post) for the same call, so the comparison is of what went over the wire; the provider simulator
supplies usage and faults.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent_platform.errors import ProviderError
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import Endpoint, build_endpoints
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.simulation_profile import ProviderProfile, SimulationProfile
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.models.simulator_protocol import parse_request, success_body

MODELS = {"openai": "gpt-4o", "anthropic": "claude-3-5-sonnet-20241022", "local": "local-llm"}
PROMPT = 'Write add(a, b) with a test. Grenzfälle: "ä", \\n, {braces} and \u2603.'


@dataclasses.dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _Capture(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[Captured]

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw)
        self.seen.append(Captured(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        api = "anthropic" if self.path.endswith("/messages") else "openai"
        request = parse_request(api, body)
        answer = success_body(api, "cap", request.model, "captured", 3, 2, False)
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def capture() -> Iterator[tuple[str, list[Captured]]]:
    seen: list[Captured] = []
    handler = type("Handler", (_Capture,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _endpoints(base_url: str) -> dict[str, Endpoint]:
    return build_endpoints(
        load_routing(), load_residency(), mode="simulator", simulator_url=base_url
    )


def _adapter(endpoints: dict[str, Endpoint], *, direct: bool, timeout_s: float) -> LiteLLMAdapter:
    chosen = {name: dataclasses.replace(ep, direct=direct) for name, ep in endpoints.items()}
    return LiteLLMAdapter(chosen, timeout_s=timeout_s)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
async def test_the_direct_route_sends_litellms_request(
    capture: tuple[str, list[Captured]], provider: str
) -> None:
    base, seen = capture
    endpoints = _endpoints(base)
    for direct in (False, True):
        adapter = _adapter(endpoints, direct=direct, timeout_s=5)
        completion = await adapter.complete(
            provider, MODELS[provider], PROMPT, max_tokens=321, correlation_id=f"cid-{direct}"
        )
        assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == (
            "captured", 3, 2,
        )  # fmt: skip
        assert (adapter.route(adapter.endpoints[provider], MODELS[provider]) is not None) is direct
    via_litellm, direct_post = seen
    assert direct_post.path == via_litellm.path
    suffix = "/v1/messages" if provider == "anthropic" else "/v1/chat/completions"
    assert direct_post.path == f"/{provider}{suffix}"
    assert direct_post.body == via_litellm.body  # the same JSON document, prompt included
    assert direct_post.headers["x-correlation-id"] == "cid-True"
    for name in ("authorization", "x-api-key", "anthropic-version", "content-type"):
        assert direct_post.headers.get(name) == via_litellm.headers.get(name), name


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
async def test_usage_and_correlation_come_from_the_simulators_answer(provider: str) -> None:
    with ProviderSimulator() as sim:
        adapter = _adapter(_endpoints(sim.base_url), direct=True, timeout_s=5)
        completion = await adapter.complete(
            provider, MODELS[provider], PROMPT, max_tokens=50, correlation_id="corr-7"
        )
        (entry,) = sim.requests()
    assert (entry.prompt_tokens, entry.completion_tokens) == (
        completion.prompt_tokens, completion.completion_tokens,
    )  # fmt: skip
    assert entry.correlation_id == "corr-7" and entry.status == 200 and completion.simulated
    assert completion.text.startswith(f"Simulated answer from {provider}/{MODELS[provider]}")


FAULTS = [
    ("rate_limited", "rate_limited", 429),
    ("server_error", "server_error", 500),
    ("unavailable", "server_error", 503),
    ("timeout", "timeout", None),
    ("reset", "connection", None),
    ("malformed", "bad_response", None),
]


@pytest.mark.parametrize(("fault", "kind", "status"), FAULTS)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_both_routes_map_faults_to_the_same_kinds(
    provider: str, fault: str, kind: str, status: int | None
) -> None:
    profile = SimulationProfile(default=ProviderProfile(retry_after_s=7, timeout_sleep_s=2.0))
    errors: dict[bool, ProviderError] = {}
    with ProviderSimulator(profile) as sim:
        sim.force(provider, "faulty", fault=fault)
        for direct in (True, False):
            adapter = _adapter(_endpoints(sim.base_url), direct=direct, timeout_s=0.3)
            with pytest.raises(ProviderError) as caught:
                await adapter.complete(
                    provider, MODELS[provider], "hi", max_tokens=10, correlation_id="c"
                )
            errors[direct] = caught.value
        assert [r.fault for r in sim.requests(provider)] == [fault, fault]
    assert errors[True].kind == errors[False].kind == kind
    assert errors[True].provider == provider
    if status is not None:
        assert errors[True].status == status
    if fault == "rate_limited":
        assert errors[True].retry_after_s == errors[False].retry_after_s == 7.0


async def test_a_closed_port_is_a_connection_error() -> None:
    adapter = _adapter(_endpoints("http://127.0.0.1:9"), direct=True, timeout_s=2)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete("openai", "gpt-4o", "hi", max_tokens=5, correlation_id="c")
    assert caught.value.kind == "connection"


def test_each_event_loop_gets_its_own_connection_pool() -> None:
    with ProviderSimulator() as sim:
        adapter = _adapter(_endpoints(sim.base_url), direct=True, timeout_s=5)

        async def two_calls(close: bool) -> object:
            for _ in range(2):
                await adapter.complete("openai", "gpt-4o", "hi", max_tokens=5, correlation_id="c")
            client = adapter.direct.transport()
            assert adapter.direct.transport() is client  # reused within the loop
            if close:
                await adapter.direct.aclose()
            return client

        first = asyncio.run(two_calls(close=False))
        second = asyncio.run(two_calls(close=True))  # the first loop's client is not reused
        assert first is not second and len(sim.requests()) == 4
