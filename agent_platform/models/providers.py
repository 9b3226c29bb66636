"""The litellm adapter: the only module that imports litellm, and only when a call is made.

litellm is imported lazily (it takes seconds) with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` set
first, so it never fetches its price map from the network; its own retries are off
(``num_retries=0``, ``max_retries=0``) because failover is the router's job; every call has an
explicit timeout, and ``asyncio.timeout`` makes that a bound on the whole call. litellm's,
openai's and httpx's exceptions are translated here into :class:`ProviderError` with a ``kind``
the router acts on; anything else is a bug in our code and propagates untranslated.

A call does as little per-call setup as litellm allows: the parts of a request that depend only
on the endpoint and model (model id, ``api_base``, key, extras) are built once per (provider,
model); ``custom_llm_provider`` is passed, so litellm does not infer the provider from the
model string on every call; the whole-call bound is a timeout scope on the caller's task rather
than a second task (``asyncio.wait_for``). litellm itself keeps one provider client (and its
connection pool) per endpoint and key across calls, so connections are reused.

A ``direct`` endpoint (every route but Bedrock) skips ``litellm.acompletion``: its request is
built from litellm's provider config once per (endpoint, model) by :mod:`.wire` and posted over
the adapter's pooled client (:mod:`.direct`), which maps timeouts, connection failures, 429
(with Retry-After), other 4xx, 5xx and unusable bodies to the same :class:`ProviderError` kinds
as the litellm path. An endpoint whose format cannot be templated keeps the litellm call.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from agent_platform.errors import ProviderError
from agent_platform.models.direct import DirectCaller
from agent_platform.models.endpoints import Endpoint
from agent_platform.models.wire import WireRoute, build_route

__all__ = ["Completion", "LiteLLMAdapter", "classify_exception", "provider_exceptions"]


@dataclass(frozen=True)
class Completion:
    """One successful provider answer with the usage the provider reported."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    simulated: bool


_LOCAL_COST_MAP = "LITELLM_LOCAL_MODEL_COST_MAP"
_loaded: dict[str, Any] = {}
"""litellm and the provider exception types, once imported (litellm takes seconds)."""


def _litellm() -> Any:
    """The litellm module, imported on first use with its price map pinned to the local copy."""
    # Forced, not defaulted: an inherited "False" would make the import fetch over the network
    # (and a later reload of the map, too). Read first: writing os.environ is a putenv call.
    if os.environ.get(_LOCAL_COST_MAP) != "True":
        os.environ[_LOCAL_COST_MAP] = "True"
    module = _loaded.get("litellm")
    if module is None:
        import litellm

        litellm.suppress_debug_info = True
        module = _loaded["litellm"] = litellm
    return module


def provider_exceptions() -> tuple[type[BaseException], ...]:
    """What a provider call can raise for a provider-side reason: litellm's exceptions (all
    subclasses of openai's ``OpenAIError``), httpx's, and socket-level connection/timeout
    errors. Anything else is a bug in our code and propagates untranslated."""
    errors: tuple[type[BaseException], ...] | None = _loaded.get("errors")
    if errors is None:
        _litellm()
        import openai

        errors = _loaded["errors"] = (
            openai.OpenAIError, httpx.HTTPError, ConnectionError, TimeoutError,
        )  # fmt: skip
    return errors


class LiteLLMAdapter:
    """Calls providers in litellm's formats: ``direct`` endpoints over a pooled HTTP client,
    the others through ``litellm.acompletion``."""

    def __init__(self, endpoints: Mapping[str, Endpoint], *, timeout_s: float) -> None:
        self.endpoints = dict(endpoints)
        self.timeout_s = timeout_s
        self.direct = DirectCaller(timeout_s)
        self._fixed: dict[tuple[str, str], tuple[Endpoint, dict[str, Any]]] = {}
        self._routes: dict[tuple[str, str], tuple[Endpoint, WireRoute | None]] = {}

    def warm_up(self) -> None:
        """Import litellm now rather than on the first call."""
        _litellm()

    async def complete(
        self,
        provider: str,
        model: str,
        prompt: str,
        *,
        max_tokens: int,
        correlation_id: str,
    ) -> Completion:
        """Ask ``provider`` for a completion of ``prompt``.

        Raises:
            ProviderError: the call failed; ``kind`` says how.
        """
        endpoint = self.endpoints[provider]
        if endpoint.unavailable_reason is not None:
            raise ProviderError(provider, "client_error", endpoint.unavailable_reason)
        route = self.route(endpoint, model)
        if route is not None:
            answer = await self.direct.post(provider, route, prompt, max_tokens, correlation_id)
            return Completion(*answer, endpoint.simulated)
        litellm = _litellm()
        request = self.request(endpoint, model, prompt, max_tokens, correlation_id)
        errors = provider_exceptions()
        started = time.perf_counter()
        try:
            # litellm's timeout bounds each network read; the scope bounds the whole call.
            async with asyncio.timeout(self.timeout_s):
                response = await litellm.acompletion(**request)
        except errors as exc:  # translated at the boundary; TimeoutError included
            raise classify_exception(provider, exc) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        return _completion(provider, response, latency_ms, endpoint.simulated)

    def route(self, endpoint: Endpoint, model: str) -> WireRoute | None:
        """The direct route of ``endpoint`` for ``model`` (None: call through litellm), built
        once per endpoint object (no network); a replaced endpoint gets its own."""
        key = (endpoint.provider, model)
        cached = self._routes.get(key)
        if cached is not None and cached[0] is endpoint:
            return cached[1]
        route = None
        if endpoint.direct:
            _litellm()  # imported with the local price map pinned, before its configs load
            route = build_route(endpoint, model)
        self._routes[key] = (endpoint, route)
        return route

    def request(
        self, endpoint: Endpoint, model: str, prompt: str, max_tokens: int, correlation_id: str
    ) -> dict[str, Any]:
        """The keyword arguments of ``litellm.acompletion`` for one call (no network).

        The endpoint's extras come first so they cannot override the timeout, the retries or
        the provider; ``api_base`` is the endpoint the residency check approved.
        """
        return {
            **self._fixed_part(endpoint, model),
            "timeout": self.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "extra_headers": {"x-correlation-id": correlation_id},
        }

    def _fixed_part(self, endpoint: Endpoint, model: str) -> dict[str, Any]:
        """What every call to ``endpoint`` for ``model`` sends, built once per endpoint object
        (no network); a replaced endpoint gets its own."""
        key = (endpoint.provider, model)
        cached = self._fixed.get(key)
        if cached is not None and cached[0] is endpoint:
            return cached[1]
        fixed = {
            **endpoint.extra,
            "model": endpoint.model_string(model),
            "custom_llm_provider": endpoint.model_prefix,
        }
        if endpoint.api_base is not None:
            fixed["api_base"] = endpoint.api_base
        if endpoint.api_key is not None:
            fixed["api_key"] = endpoint.api_key
        self._fixed[key] = (endpoint, fixed)
        return fixed


def _completion(provider: str, response: Any, latency_ms: float, simulated: bool) -> Completion:
    try:
        text = response.choices[0].message.content
        usage = response.usage
        prompt_tokens, completion_tokens = int(usage.prompt_tokens), int(usage.completion_tokens)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise ProviderError(provider, "bad_response", f"unusable response: {exc}") from exc
    if not isinstance(text, str):
        raise ProviderError(provider, "bad_response", "response has no text content")
    return Completion(text, prompt_tokens, completion_tokens, latency_ms, simulated)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _retry_after(exc: BaseException) -> float | None:
    for source in (getattr(exc, "litellm_response_headers", None), _response_headers(exc)):
        if source is None:
            continue
        value = dict(source).get("retry-after") or dict(source).get("Retry-After")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _response_headers(exc: BaseException) -> Any:
    try:
        response = getattr(exc, "response", None)
    except (AttributeError, RuntimeError):
        return None
    return getattr(response, "headers", None)


def classify_exception(provider: str, exc: BaseException) -> ProviderError:
    """Map a litellm/httpx/openai exception to a :class:`ProviderError` kind."""
    chain = _chain(exc)
    mro = {cls.__name__ for e in chain for cls in type(e).__mro__}
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    if {"Timeout", "APITimeoutError", "TimeoutException", "TimeoutError"} & mro:
        return ProviderError(provider, "timeout", message, None)
    if "RateLimitError" in mro or status == 429:
        return ProviderError(provider, "rate_limited", message, 429, _retry_after(exc))
    if any(isinstance(e, json.JSONDecodeError) for e in chain) or "Expecting value" in message:
        return ProviderError(provider, "bad_response", message, status)
    if any(isinstance(e, (httpx.TransportError, ConnectionError)) for e in chain) or (
        "APIConnectionError" in mro or "Connection error" in message
    ):
        return ProviderError(provider, "connection", message, None)
    if status is not None and 400 <= status < 500:
        return ProviderError(provider, "client_error", message, status)
    return ProviderError(provider, "server_error", message, status)
