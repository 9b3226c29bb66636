"""HTTP delivery for webhooks and Slack: SSRF-pinned POSTs and response classification.

The network seam is httpx's one-method transport (``httpx.BaseTransport``): tests hand in an
``httpx.MockTransport`` to script responses, production uses the pooled ``http.client``
transport of :mod:`.http_pool` (a quarter of httpcore's CPU per request). The
resolver is a second seam, so the SSRF tests can make a name resolve anywhere. Redirects are
never followed; every httpx exception becomes an :class:`AttemptOutcome` here. An https request
connects to the pinned IP while TLS sends the URL's host name as SNI and checks the certificate
against that name (not the IP), trusting the destination's own CA file when it names one.
A response body is read only up to :data:`MAX_RESPONSE_BYTES` (nothing uses it; a receiver must
not be able to make the dispatcher download without end), then the connection is closed.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import ssl
import threading
from collections.abc import Mapping
from datetime import datetime

import httpx

from agent_platform.errors import DestinationError
from agent_platform.notifications.http_pool import Endpoint, PooledHttpTransport
from agent_platform.notifications.ids import as_utc, utc_now
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.notifications.ssrf import AddressGuard, AddressPolicy, PinnedTarget, Resolver

__all__ = ["MAX_RESPONSE_BYTES", "HttpSender", "classify_response", "parse_retry_after"]

_RETRYABLE_4XX = frozenset({408, 425, 429})

#: How much of a response body is read (the rest is discarded with the connection).
MAX_RESPONSE_BYTES = 64 * 1024


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (as_utc(when) - (now or utc_now())).total_seconds())


def classify_response(status: int, headers: Mapping[str, str]) -> AttemptOutcome:
    """Map an HTTP status to what the dispatcher should do next."""
    if 200 <= status < 300:
        return AttemptOutcome(OutcomeKind.DELIVERED, http_status=status)
    if status == 410:
        return AttemptOutcome(OutcomeKind.GONE, http_status=status, error="HTTP 410 Gone")
    if status in _RETRYABLE_4XX or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return AttemptOutcome(
            OutcomeKind.RETRY, http_status=status, retry_after_s=retry_after, error=f"HTTP {status}"
        )
    if 300 <= status < 400:
        return AttemptOutcome(
            OutcomeKind.FAILED, http_status=status, error=f"HTTP {status}: redirect not followed"
        )
    return AttemptOutcome(OutcomeKind.FAILED, http_status=status, error=f"HTTP {status}")


class HttpSender:
    """POSTs bodies to SSRF-checked, address-pinned URLs through pooled keep-alive transports.

    Requests go to the transport directly, not through ``httpx.Client``: the client logs every
    request URL at INFO, and a Slack URL's path is a secret. Going direct also means there is
    no redirect machinery at all.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        #: The address guard, shared with the e-mail channel so every channel is checked alike.
        self.guard = AddressGuard(policy, resolver)
        self._shared = transport
        # One pool per host name (and trust store): pooled connections are keyed by the pinned
        # IP, and a TLS connection verified for one name must never carry a request for another.
        self._per_host: dict[tuple[str, ssl.SSLContext | None], httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            transports = [*self._per_host.values(), *([self._shared] if self._shared else [])]
            self._per_host.clear()
        for transport in transports:
            transport.close()

    def _transport_for(self, host: str, context: ssl.SSLContext | None) -> httpx.BaseTransport:
        if self._shared is not None:
            return self._shared
        with self._lock:
            transport = self._per_host.get((host, context))
            if transport is None:
                transport = PooledHttpTransport(context)
                self._per_host[(host, context)] = transport
            return transport

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> AttemptOutcome:
        """One attempt: resolve and check once, connect to that address, classify the result.

        ``ssl_context`` is the verifying context for https (None: the default trust store).
        """
        try:
            target = self.guard.pin_url(url)
        except DestinationError as exc:
            return AttemptOutcome(OutcomeKind.REFUSED, error=str(exc))
        transport = self._transport_for(target.host, ssl_context)
        sent = {**headers, "host": target.host_header}
        try:
            if isinstance(transport, PooledHttpTransport):
                status, answer, truncated = transport.post(
                    _endpoint(target), body, sent, timeout_s, MAX_RESPONSE_BYTES
                )
            else:
                status, answer, truncated = _post_via(transport, target, body, sent, timeout_s)
        except httpx.TimeoutException as exc:
            return _transient(f"timeout after {timeout_s:g}s ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return _transient(f"connection error ({type(exc).__name__}: {exc})")
        outcome = classify_response(status, answer)
        if not truncated:
            return outcome
        note = f"response body over {MAX_RESPONSE_BYTES} bytes: the rest was not read"
        return dataclasses.replace(
            outcome, error=f"{outcome.error}; {note}" if outcome.error else note
        )


@functools.lru_cache(maxsize=512)
def _endpoint(target: PinnedTarget) -> Endpoint:
    url = target.url
    port = url.port or (443 if url.scheme == "https" else 80)
    path = url.raw_path.decode("ascii")
    return Endpoint(url.scheme, target.address, port, target.host, path)


def _post_via(
    transport: httpx.BaseTransport,
    target: PinnedTarget,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> tuple[int, Mapping[str, str], bool]:
    """The POST through any httpx transport (the test seam): status, headers, truncated."""
    request = httpx.Request(
        "POST",
        target.url,
        content=body,
        headers=headers,
        extensions={"timeout": httpx.Timeout(timeout_s).as_dict(), **target.extensions},
    )
    response = transport.handle_request(request)
    try:
        truncated = _read_bounded(response)
    finally:
        response.close()
    return response.status_code, response.headers, truncated


def _read_bounded(response: httpx.Response) -> bool:
    """Read and drop the body up to :data:`MAX_RESPONSE_BYTES`; True if there was more."""
    received = 0
    # The raw stream, not ``iter_raw``: a response built with its content already in memory
    # (a test transport's) counts as consumed, yet iterating its stream still works.
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise TypeError(f"a synchronous transport returned {type(stream).__name__}")
    for chunk in stream:
        received += len(chunk)
        if received > MAX_RESPONSE_BYTES:
            return True
    return False


def _transient(message: str) -> AttemptOutcome:
    return AttemptOutcome(OutcomeKind.RETRY, error=message)
