"""The adapter's direct provider call: a litellm-shaped request posted over a pooled client.

Profiling the routed call showed litellm's own per-call work (its logging object, cost
calculator, response metadata and a background thread that runs its success callbacks) costing
more CPU than the HTTP exchange itself, and that thread competing with the event loop's thread
for the GIL while the call waited on Redis. For OpenAI-compatible and Anthropic endpoints this
module posts the request :mod:`~agent_platform.models.wire` built from litellm's own provider
config over one long-lived ``httpx.AsyncClient`` (its connection pool keeps connections alive
between calls) and reads the answer itself. No retries: one call is one HTTP request, and
failover is the router's job.

A client's connections belong to the event loop that opened them, so there is one client per
running loop: a call made under another loop (a new ``asyncio.run``) gets a new client.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from agent_platform.errors import ProviderError
from agent_platform.models.wire import WireRoute, read_answer, status_error

__all__ = ["DirectCaller"]

_POOL = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=5.0)


class DirectCaller:
    """Calls providers over a pooled ``httpx.AsyncClient``; every call bounded by ``timeout_s``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s)
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        """The pooled client of the running event loop (created on its first call)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = httpx.AsyncClient(timeout=self._timeout, limits=_POOL, trust_env=False)
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        """Close the current loop's client and its connections."""
        http, self._http, self._loop = self._http, None, None
        if http is not None:
            await http.aclose()

    async def post(
        self, provider: str, route: WireRoute, prompt: str, max_tokens: int, correlation_id: str
    ) -> tuple[str, int, int, float]:
        """(text, prompt tokens, completion tokens, latency ms) of one call.

        Raises:
            ProviderError: timeout, connection failure, a non-2xx status or an unusable body.
        """
        headers = {**route.headers, "x-correlation-id": correlation_id}
        content = route.body(prompt, max_tokens)
        client = self.client()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):  # the whole call, not each read
                response = await client.post(route.url, content=content, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderError(provider, "timeout", _describe(exc)) from exc
        except (httpx.TransportError, ConnectionError) as exc:
            raise ProviderError(provider, "connection", _describe(exc)) from exc
        except httpx.HTTPError as exc:  # an answer httpx could not decode
            raise ProviderError(provider, "bad_response", _describe(exc)) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        payload = response.content
        if not 200 <= response.status_code < 300:
            raise status_error(provider, response.status_code, response.headers, payload)
        return (*read_answer(provider, route.api, payload), latency_ms)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
