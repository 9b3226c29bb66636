"""The adapter's direct provider call: a litellm-shaped request posted over a pooled client.

Profiling the routed call showed litellm's own per-call work (its logging object, cost
calculator, response metadata and a background thread that runs its success callbacks) costing
more CPU than the HTTP exchange itself, and that thread competing with the event loop's thread
for the GIL while the call waited on Redis. For OpenAI-compatible and Anthropic endpoints this
module posts the request :mod:`~agent_platform.models.wire` built from litellm's own provider
config over one long-lived pooled ``httpx.AsyncHTTPTransport`` (the connection pool inside every
``httpx.AsyncClient``; connections stay alive between calls) and reads the answer itself. The
request goes to the transport rather than through a client: a client's per-request work
(cookies, auth flow, redirects, event hooks, URL merging) cost about 0.3 ms of CPU per call in
the profile and none of it applies to a single POST with fixed headers and no redirects. No
retries: one call is one HTTP request, and failover is the router's job.

A pool's connections belong to the event loop that opened them, so there is one pool per running
loop: a call made under another loop (a new ``asyncio.run``) gets a new pool.
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
    """Calls providers over a pooled httpx transport; every call bounded by ``timeout_s``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._timeouts = {"timeout": httpx.Timeout(timeout_s).as_dict()}
        self._pool: httpx.AsyncHTTPTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[str, httpx.URL] = {}

    def transport(self) -> httpx.AsyncHTTPTransport:
        """The connection pool of the running event loop (created on its first call)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._pool = httpx.AsyncHTTPTransport(limits=_POOL, retries=0)
            self._loop = loop
        return self._pool

    async def aclose(self) -> None:
        """Close the current loop's pool and its connections."""
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.aclose()

    async def post(
        self, provider: str, route: WireRoute, prompt: str, max_tokens: int, correlation_id: str
    ) -> tuple[str, int, int, float]:
        """(text, prompt tokens, completion tokens, latency ms) of one call.

        Raises:
            ProviderError: timeout, connection failure, a non-2xx status or an unusable body.
        """
        request = httpx.Request(
            "POST", self._url(route.url), content=route.body(prompt, max_tokens),
            headers={**route.headers, "x-correlation-id": correlation_id},
            extensions=self._timeouts,
        )  # fmt: skip
        pool = self.transport()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):  # the whole call, not each read
                status, headers, payload = await _exchange(pool, request)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderError(provider, "timeout", _describe(exc)) from exc
        except (httpx.TransportError, ConnectionError) as exc:
            raise ProviderError(provider, "connection", _describe(exc)) from exc
        except httpx.HTTPError as exc:  # an answer httpx could not decode
            raise ProviderError(provider, "bad_response", _describe(exc)) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        if not 200 <= status < 300:
            raise status_error(provider, status, headers, payload)
        return (*read_answer(provider, route.api, payload), latency_ms)

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        return parsed


async def _exchange(
    pool: httpx.AsyncHTTPTransport, request: httpx.Request
) -> tuple[int, httpx.Headers, bytes]:
    """Send ``request`` and read the whole answer (the connection goes back to the pool)."""
    response = await pool.handle_async_request(request)
    try:
        payload = await response.aread()
    finally:
        await response.aclose()
    return response.status_code, response.headers, payload


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
