"""The direct route's request templates and answer reading (no network).

Live endpoints are called directly except Bedrock, always at the host residency approved; a
format litellm would rewrite the prompt in is refused (the endpoint keeps litellm's call); an
answer without the documented fields, or an error status, is a typed ProviderError.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_platform.errors import ProviderError
from agent_platform.models import providers
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import Endpoint, build_endpoints
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.wire import build_route, read_answer, status_error

LIVE_ENV = {
    "AWS_ACCESS_KEY_ID": "id", "OPENAI_API_KEY": "sk-test",
    "AGENT_PLATFORM_LOCAL_LLM_BASE_URL": "http://10.0.0.5:8000/v1",
}  # fmt: skip


def test_live_routes_are_direct_except_bedrock_and_call_the_approved_host() -> None:
    endpoints = build_endpoints(load_routing(), load_residency(), mode="live", environ=LIVE_ENV)
    adapter = LiteLLMAdapter(endpoints, timeout_s=5)
    bedrock = endpoints["anthropic"]
    assert bedrock.model_prefix == "bedrock" and not bedrock.direct
    assert adapter.route(bedrock, "claude-3-5-sonnet-20241022") is None
    openai = adapter.route(endpoints["openai"], "gpt-4o")
    assert openai is not None
    assert openai.url == "https://eu.api.openai.com/v1/chat/completions"
    assert openai.url.startswith(endpoints["openai"].residency_endpoint)
    assert openai.headers["authorization"] == "Bearer sk-test"
    local = adapter.route(endpoints["local"], "local-llm")
    assert local is not None and local.url == "http://10.0.0.5:8000/v1/chat/completions"


def test_an_anthropic_api_endpoint_gets_the_messages_route_and_its_headers() -> None:
    endpoint = Endpoint(
        "anthropic", "anthropic", "anthropic", "https://api.example.eu", "key-1",
        "https://api.example.eu", False, direct=True,
    )  # fmt: skip
    providers._litellm()
    route = build_route(endpoint, "claude-3-5-sonnet-20241022")
    assert route is not None and route.url == "https://api.example.eu/v1/messages"
    assert route.headers["x-api-key"] == "key-1" and "anthropic-version" in route.headers
    body = json.loads(route.body("hi there", 77))
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    assert body["max_tokens"] == 77
    again = json.loads(route.body("other", 5))  # the shared template is never changed
    assert again["messages"][0]["content"][0]["text"] == "other" and body["max_tokens"] == 77


def test_a_format_that_rewrites_the_prompt_keeps_the_litellm_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    providers._litellm()
    from litellm.llms.openai.chat.gpt_transformation import OpenAIGPTConfig

    def doubled(self: Any, model: str, messages: list[Any], optional: dict[str, Any], *_: Any):
        return {"model": model, "messages": messages + messages, **optional}

    monkeypatch.setattr(OpenAIGPTConfig, "transform_request", doubled)
    endpoint = Endpoint(
        "p", "openai", "openai", "http://127.0.0.1:9/v1", "k", "x", True, direct=True
    )
    assert build_route(endpoint, "gpt-4o") is None
    assert LiteLLMAdapter({"p": endpoint}, timeout_s=5).route(endpoint, "gpt-4o") is None


@pytest.mark.parametrize(
    ("api", "payload"),
    [
        ("openai", b'{"choices": []}'),
        ("openai", b'{"choices": [{"message": {"content": null}}], "usage": {}}'),
        ("openai", b'{"id": "x", "choices": ['),
        ("anthropic", b'{"content": [{"type": "tool_use"}], "usage": {"input_tokens": 1}}'),
        ("anthropic", b'{"content": [{"type": "text", "text": "a"}], "usage": {}}'),
    ],
)
def test_unusable_answers_are_bad_responses(api: str, payload: bytes) -> None:
    with pytest.raises(ProviderError) as caught:
        read_answer("p", api, payload)
    assert caught.value.kind == "bad_response"


def test_answers_are_read_from_the_documented_fields() -> None:
    anthropic = {
        "content": [
            {"type": "text", "text": "a"},
            {"type": "tool_use"},
            {"type": "text", "text": "b"},
        ],
        "usage": {"input_tokens": 11, "output_tokens": 4},
    }
    assert read_answer("p", "anthropic", json.dumps(anthropic).encode()) == ("ab", 11, 4)
    openai = {
        "choices": [{"message": {"content": "x"}}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1},
    }
    assert read_answer("p", "openai", json.dumps(openai).encode()) == ("x", 2, 1)


def test_error_statuses_map_to_kinds() -> None:
    body = b'{"error": {"message": "slow down\\nplease"}}'
    limited = status_error("p", 429, {"retry-after": "2.5"}, body)
    assert (limited.kind, limited.status, limited.retry_after_s) == ("rate_limited", 429, 2.5)
    assert "slow down" in str(limited) and "please" not in str(limited)
    dated = status_error("p", 429, {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, b"")
    assert dated.retry_after_s is None
    assert status_error("p", 404, {}, b"not json").kind == "client_error"
    assert (status_error("p", 503, {}, b"").kind, status_error("p", 503, {}, b"").status) == (
        "server_error", 503,
    )  # fmt: skip
