"""The provider simulator speaks both protocols well enough for litellm, with faults and scripts."""

from __future__ import annotations

import httpx
import pytest

from agent_platform.errors import ProviderError
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import build_endpoints
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.simulation_profile import (
    FaultRates,
    ProviderProfile,
    ScriptRule,
    SimulationProfile,
)
from agent_platform.models.simulator import ProviderSimulator

MODELS = {"openai": "gpt-4o", "anthropic": "claude-3-5-sonnet-20241022", "local": "local-llm"}


def _adapter(sim: ProviderSimulator, timeout_s: float = 2.0) -> LiteLLMAdapter:
    endpoints = build_endpoints(
        load_routing(), load_residency(), mode="simulator", simulator_url=sim.base_url
    )
    return LiteLLMAdapter(endpoints, timeout_s=timeout_s)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
async def test_litellm_talks_to_the_simulator_and_usage_is_reported(provider: str) -> None:
    script = [ScriptRule(match=["[agent_platform node=planner"], content='{"steps": ["write it"]}')]
    with ProviderSimulator(script=script) as sim:
        completion = await _adapter(sim).complete(
            provider,
            MODELS[provider],
            "[agent_platform node=planner attempt=1]\nplan a parser",
            max_tokens=100,
            correlation_id="corr-1",
        )
        assert completion.text == '{"steps": ["write it"]}'
        assert completion.simulated
        (entry,) = sim.requests()
    endpoint = "messages" if provider == "anthropic" else "chat.completions"
    assert (entry.provider, entry.endpoint, entry.model, entry.status) == (
        provider,
        endpoint,
        MODELS[provider],
        200,
    )
    assert entry.correlation_id == "corr-1" and entry.simulated
    # 55 characters of prompt -> 14 tokens; 23 characters of answer -> 6 tokens (4 chars a token)
    assert (completion.prompt_tokens, completion.completion_tokens) == (14, 6)
    assert (entry.prompt_tokens, entry.completion_tokens) == (14, 6)


async def test_answers_are_truncated_to_max_tokens() -> None:
    with ProviderSimulator(script=[ScriptRule(match=["long"], content="x" * 400)]) as sim:
        completion = await _adapter(sim).complete(
            "openai", "gpt-4o", "long answer please", max_tokens=10, correlation_id="c"
        )
    assert completion.completion_tokens == 10 and completion.text == "x" * 40


async def test_wire_shapes_match_the_vendor_apis() -> None:
    with ProviderSimulator() as sim:
        async with httpx.AsyncClient() as client:
            body = {
                "model": "claude-x",
                "max_tokens": 50,
                "system": "be brief",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            }
            anthropic = (
                await client.post(sim.url_for("anthropic") + "/v1/messages", json=body)
            ).json()
            openai = (
                await client.post(
                    sim.url_for("openai") + "/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                )
            ).json()
            missing = await client.post(sim.url_for("openai") + "/v1/embeddings", json={})
    assert anthropic["type"] == "message" and anthropic["content"][0]["type"] == "text"
    assert (
        anthropic["stop_reason"] == "end_turn" and anthropic["usage"]["input_tokens"] == 3
    )  # "be brief" 2 + "hi" 1
    assert openai["choices"][0]["finish_reason"] == "stop" and openai["usage"]["total_tokens"] > 0
    assert anthropic["simulated"] is True and openai["simulated"] is True
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("fault", "kind", "status"),
    [
        ("rate_limited", "rate_limited", 429),
        ("server_error", "server_error", 500),
        ("unavailable", "server_error", None),
        ("timeout", "timeout", None),
        ("reset", "connection", None),
        ("malformed", "bad_response", None),
    ],
)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_forced_faults_become_typed_provider_errors(
    provider: str, fault: str, kind: str, status: int | None
) -> None:
    profile = SimulationProfile(default=ProviderProfile(retry_after_s=7, timeout_sleep_s=2.0))
    with ProviderSimulator(profile) as sim:
        sim.force(provider, "faulty", fault=fault)
        with pytest.raises(ProviderError) as caught:
            await _adapter(sim, timeout_s=0.3).complete(
                provider, MODELS[provider], "hi", max_tokens=10, correlation_id="c"
            )
        assert sim.requests(provider)[0].fault == fault
    assert caught.value.kind == kind and caught.value.provider == provider
    if status is not None:
        assert caught.value.status == status
    if fault == "rate_limited":
        assert caught.value.retry_after_s == 7.0


async def test_seeded_profiles_repeat_the_same_fault_sequence() -> None:
    profile = SimulationProfile(
        seed=42, default=ProviderProfile(faults=FaultRates(server_error=0.3, rate_limited=0.2))
    )

    async def run() -> list[str | None]:
        with ProviderSimulator(profile) as sim:
            async with httpx.AsyncClient() as client:
                for _ in range(30):
                    await client.post(
                        sim.url_for("openai") + "/v1/chat/completions",
                        json={"model": "m", "messages": []},
                    )
            return [r.fault for r in sim.requests()]

    first, second = await run(), await run()
    assert first == second and {"server_error", "rate_limited", None} <= set(first)


def test_forced_states_drive_the_truth_the_oracle_reads() -> None:
    profile = SimulationProfile(default=ProviderProfile(latency={"median_ms": 4}, slow_factor=5))
    sim = ProviderSimulator(profile)
    sim.force("local", "slow")
    assert sim.expected_latency_ms("local") == 20
    sim.force("anthropic", "slow", latency_ms=250)
    sim.force("openai", "down")
    assert sim.expected_latency_ms("anthropic") == 250 and not sim.is_available("openai")
    with pytest.raises(ValueError, match="mode"):
        sim.force("openai", "sleepy")
    sim.reset_states()
    assert sim.is_available("openai")
