"""The live route: the host called is the host residency approved, live model ids stay in the
EU, request extras cannot loosen the call's bounds, and only provider failures are translated.

No network: requests are built and resolved with litellm's own endpoint logic, and litellm's
``acompletion`` is replaced where a call is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

from agent_platform.errors import ConfigError, ProviderError
from agent_platform.models import providers
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import Endpoint, build_endpoints
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.tokens import live_prompt_tokens

APPROVED = "https://bedrock-runtime.eu-central-1.amazonaws.com"
ELSEWHERE = "https://bedrock-runtime.us-east-1.amazonaws.com"
CLAUDE = "claude-3-5-sonnet-20241022"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "id", "OPENAI_API_KEY": "k"}


def _live() -> dict[str, Endpoint]:
    return build_endpoints(load_routing(), load_residency(), mode="live", environ=AWS_ENV)


def test_bedrock_request_targets_the_approved_host_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from litellm.llms.bedrock.base_aws_llm import BaseAWSLLM

    monkeypatch.setenv("AWS_BEDROCK_RUNTIME_ENDPOINT", ELSEWHERE)
    endpoint = _live()["anthropic"]
    assert endpoint.residency_endpoint == APPROVED
    request = LiteLLMAdapter({"anthropic": endpoint}, timeout_s=5).request(
        endpoint, CLAUDE, "hi", 10, "cid"
    )
    assert request["api_base"] == request["aws_bedrock_runtime_endpoint"] == APPROVED
    assert request["model"] == "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0"
    # litellm's own resolution: the URL it builds and the URL it sends to.
    called, sent_to = BaseAWSLLM().get_runtime_endpoint(
        api_base=request["api_base"],
        aws_bedrock_runtime_endpoint=request["aws_bedrock_runtime_endpoint"],
        aws_region_name=request["aws_region_name"],
    )
    assert called == sent_to == APPROVED


def test_every_live_provider_calls_the_host_residency_judged() -> None:
    for name, endpoint in _live().items():
        request = LiteLLMAdapter(_live(), timeout_s=5).request(endpoint, "m", "hi", 10, "c")
        assert request["api_base"] == endpoint.residency_endpoint, name


def test_endpoint_extras_cannot_override_the_call_bounds() -> None:
    endpoint = Endpoint(
        "p", "openai", "openai", "https://eu.api.openai.com/v1", "k",
        "https://eu.api.openai.com/v1", False,
        extra={
            "timeout": 999, "num_retries": 5, "max_retries": 5, "aws_region_name": "x",
            "custom_llm_provider": "azure", "model": "azure/m",
        },
    )  # fmt: skip
    adapter = LiteLLMAdapter({"p": endpoint}, timeout_s=7)
    request = adapter.request(endpoint, "m", "hi", 10, "c")
    assert (request["timeout"], request["num_retries"], request["max_retries"]) == (7, 0, 0)
    assert (request["custom_llm_provider"], request["model"]) == ("openai", "openai/m")
    assert request["aws_region_name"] == "x"
    again = adapter.request(endpoint, "m", "other", 20, "d")
    assert (again["messages"], again["max_tokens"]) == ([{"role": "user", "content": "other"}], 20)
    assert again["extra_headers"] == {"x-correlation-id": "d"}
    assert request["extra_headers"] == {"x-correlation-id": "c"}  # one call's parts stay its own


def test_a_replaced_endpoint_is_called_as_it_now_is() -> None:
    first = Endpoint("p", "openai", "openai", "http://127.0.0.1:9/v1", "k1", "x", True)
    adapter = LiteLLMAdapter({"p": first}, timeout_s=5)
    assert adapter.request(first, "m", "hi", 10, "c")["api_key"] == "k1"
    second = Endpoint("p", "openai", "openai", "http://127.0.0.1:8/v1", "k2", "x", True)
    adapter.endpoints["p"] = second
    request = adapter.request(second, "m", "hi", 10, "c")
    assert (request["api_base"], request["api_key"]) == ("http://127.0.0.1:8/v1", "k2")


@pytest.mark.parametrize(
    "value",
    [
        "bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock/global.anthropic.claude-sonnet-4-20250514-v1:0",
        "bedrock/apac.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic/claude-3-5-sonnet-20241022",
        "bedrock/eu.claude-3-5-sonnet",
        "bedrock/",
    ],
)
def test_live_models_that_could_leave_the_eu_are_config_errors(value: str) -> None:
    routing = load_routing()
    anthropic = routing.providers["anthropic"].model_copy(update={"live_models": {CLAUDE: value}})
    changed = routing.model_copy(
        update={"providers": {**routing.providers, "anthropic": anthropic}}
    )
    for mode, url in (("live", None), ("simulator", "http://127.0.0.1:9")):
        with pytest.raises(ConfigError) as caught:
            build_endpoints(changed, load_residency(), mode=mode, simulator_url=url, environ={})
        assert caught.value.key == f"providers.anthropic.live_models.{CLAUDE}"
        assert caught.value.value == value


@pytest.mark.parametrize(
    "value",
    [
        "bedrock/eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock/converse/eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
    ],
)
def test_eu_profiles_and_region_local_ids_are_allowed(value: str) -> None:
    routing = load_routing()
    anthropic = routing.providers["anthropic"].model_copy(update={"live_models": {CLAUDE: value}})
    changed = routing.model_copy(
        update={"providers": {**routing.providers, "anthropic": anthropic}}
    )
    endpoints = build_endpoints(changed, load_residency(), mode="live", environ=AWS_ENV)
    assert endpoints["anthropic"].model_string(CLAUDE) == value


def test_openai_live_models_need_the_openai_prefix() -> None:
    routing = load_routing()
    openai_cfg = routing.providers["openai"].model_copy(
        update={"live_models": {"gpt-4o": "azure/gpt-4o"}}
    )
    changed = routing.model_copy(update={"providers": {**routing.providers, "openai": openai_cfg}})
    with pytest.raises(ConfigError, match=r"providers\.openai\.live_models\.gpt-4o"):
        build_endpoints(changed, load_residency(), mode="live", environ=AWS_ENV)


def _adapter_raising(monkeypatch: pytest.MonkeyPatch, behaviour: Any) -> LiteLLMAdapter:
    litellm = providers._litellm()
    monkeypatch.setattr(litellm, "acompletion", behaviour)
    endpoint = Endpoint("p", "openai", "openai", "http://127.0.0.1:9/v1", "k", "x", True)
    return LiteLLMAdapter({"p": endpoint}, timeout_s=0.05)


async def test_programming_errors_are_not_provider_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async def buggy(**_: Any) -> Any:
        raise KeyError("choices")

    adapter = _adapter_raising(monkeypatch, buggy)
    with pytest.raises(KeyError):
        await adapter.complete("p", "m", "hi", max_tokens=5, correlation_id="c")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (openai.APIConnectionError(request=httpx.Request("POST", "http://x")), "connection"),
        (httpx.ConnectError("refused"), "connection"),
    ],
)
async def test_provider_failures_are_translated(
    monkeypatch: pytest.MonkeyPatch, error: Exception, kind: str
) -> None:
    async def failing(**_: Any) -> Any:
        raise error

    adapter = _adapter_raising(monkeypatch, failing)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete("p", "m", "hi", max_tokens=5, correlation_id="c")
    assert caught.value.kind == kind


async def test_a_call_that_never_answers_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hangs(**_: Any) -> Any:
        await asyncio.Event().wait()

    adapter = _adapter_raising(monkeypatch, hangs)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete("p", "m", "hi", max_tokens=5, correlation_id="c")
    assert caught.value.kind == "timeout"


def test_the_local_cost_map_is_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "False")
    providers._litellm()
    assert providers.os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_live_prompt_estimate_bounds_byte_level_tokenizers() -> None:
    assert live_prompt_tokens([]) == 8
    assert live_prompt_tokens(["abcd"]) == 8 + 4 + 8
    assert live_prompt_tokens(["äö"]) == 8 + 4 + 8  # UTF-8 bytes, not characters
