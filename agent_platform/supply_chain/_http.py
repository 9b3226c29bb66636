"""JSON over HTTP with bounded retries, returning outcomes instead of raising.

Registry and advisory look-ups must tell "the server said no" (404: an answer) from "we could
not ask" (timeout, refused connection, 5xx, 429, unparsable body: no answer). Both callers need
that distinction per request, so this returns a small result value and keeps httpx's exceptions
inside this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["HttpResult", "request_json"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_S = 0.2


@dataclass(frozen=True)
class HttpResult:
    """``status`` None means no HTTP answer at all; ``error`` says why there is no data."""

    status: int | None
    data: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    retries: int,
    json_body: Any = None,
) -> HttpResult:
    """Send one request, retrying transient failures ``retries`` times with backoff."""
    result = HttpResult(None, error="not attempted")
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(_BACKOFF_S * 2 ** (attempt - 1))
        result = _once(client, method, url, json_body)
        if result.status is not None and result.status not in _RETRY_STATUSES:
            return result
    return result


def _once(client: httpx.Client, method: str, url: str, json_body: Any) -> HttpResult:
    try:
        response = client.request(method, url, json=json_body)
    except httpx.TimeoutException as exc:
        return HttpResult(None, error=f"timeout ({type(exc).__name__}) on {url}")
    except httpx.HTTPError as exc:
        return HttpResult(None, error=f"{type(exc).__name__} on {url}: {exc}")
    if response.status_code != 200:
        return HttpResult(response.status_code, error=f"HTTP {response.status_code} from {url}")
    try:
        return HttpResult(200, data=response.json())
    except ValueError as exc:
        return HttpResult(None, error=f"unparsable JSON from {url}: {exc}")
