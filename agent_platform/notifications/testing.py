"""Real receivers on loopback for tests, benchmarks and the evidence job.

:class:`WebhookReceiver` is a threaded HTTP server that verifies Standard-Webhooks signatures,
records every request, and injects faults on demand (500/503, a hang past the client's timeout,
a dropped connection, 429 with ``Retry-After``, 410, and ``late``: accepted but answered after
the client gave up, so the retry is a duplicate), either queued one by one, sticky for a path,
or at a rate drawn from a seeded RNG; given a TLS context it serves HTTPS and records the SNI
name each connection asked for. :class:`SmtpReceiver` is an aiosmtpd server (optionally
offering STARTTLS) that records every message. Both bind 127.0.0.1 on a free port
and are bounded: every wait has a timeout, ``stop`` ends every thread they started. Shipped in
the package (like ``structlog.testing``) because the evidence job drives them too; aiosmtpd is
imported only when an SMTP receiver starts.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from agent_platform._loopback import (
    BackgroundServer,
    StartStopContext,
    serve_in_background,
)
from agent_platform.notifications._receiver_common import FaultPlan, wait_until
from agent_platform.notifications._receiver_http import parse_request, response_bytes
from agent_platform.notifications._receiver_smtp import (
    SMTP_FAULT_KINDS,
    ReceivedEmail,
    SmtpFault,
    SmtpReceiver,
)
from agent_platform.notifications.ids import utc_now

__all__ = [
    "FAULT_KINDS",
    "SMTP_FAULT_KINDS",
    "ReceivedEmail",
    "ReceivedRequest",
    "SmtpFault",
    "SmtpReceiver",
    "WebhookReceiver",
    "verify_signature",
]

#: Faults the webhook receiver can inject (``slow``: answered 200 after ``slow_s``).
FAULT_KINDS = ("500", "503", "timeout", "drop", "429", "410", "late", "slow")
_MAX_BODY = 10_000_000


@functools.lru_cache(maxsize=16)
def _verifier(secret: str) -> Webhook:
    """One verifier per secret (building one decodes the key), shared by every request."""
    return Webhook(secret)


def verify_signature(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """True when ``headers`` carry a valid Standard-Webhooks v1 signature of ``body``."""
    try:
        _verifier(secret).verify(body.decode("utf-8"), headers, json_parse=False)
    except (WebhookVerificationError, UnicodeDecodeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it and what it answered (``status`` None: no answer).

    A ``late`` fault records ``status`` 200 (the receiver processed it) although the client had
    stopped waiting; ``tls_server_name`` is the SNI of an HTTPS connection (None over HTTP).
    """

    received_at: datetime
    perf_counter: float
    path: str
    headers: dict[str, str]
    body: bytes
    fault: str | None
    status: int | None
    signature_valid: bool | None
    tls_server_name: str | None = None

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    @property
    def delivered(self) -> bool:
        """The receiver accepted it (answered 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def correlation_id(self) -> str | None:
        """From the body's ``correlation_id`` (webhooks) or the ``x-correlation-id`` header."""
        try:
            body = self.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("correlation_id"), str):
            return str(body["correlation_id"])
        return self.headers.get("x-correlation-id")


class WebhookReceiver(StartStopContext):
    """A threaded HTTP receiver on 127.0.0.1 that records requests and injects faults.

    Args:
        secret: the ``whsec_`` secret to verify signatures with (None: no verification).
        reject_bad_signature: answer 401 to a request whose signature does not verify.
        retry_after: the ``Retry-After`` value sent with an injected 429.
        hang_s: how long a ``timeout`` fault holds the request before dropping it (set it
            above the client's timeout).
        delay_s: latency added to every accepted request.
        unsigned_paths: paths that take unsigned requests (e.g. a Slack stand-in); elsewhere a
            missing or wrong signature is a 401 when ``reject_bad_signature``.
        tls_context: a server-side context: serve HTTPS (the receiver installs its own
            ``sni_callback`` on it to record each connection's SNI name).
        slow_s: how long a ``slow`` fault waits before answering 200.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        reject_bad_signature: bool = True,
        retry_after: str = "1",
        hang_s: float = 2.0,
        delay_s: float = 0.0,
        unsigned_paths: Iterable[str] = (),
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        slow_s: float = 1.0,
    ) -> None:
        self.secret = secret
        self.slow_s = slow_s
        self.unsigned_paths = frozenset(unsigned_paths)
        self.reject_bad_signature = reject_bad_signature
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.delay_s = delay_s
        self._port = port
        self._tls_context = tls_context
        self._plan = FaultPlan()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[ReceivedRequest] = []
        self.server_log: deque[str] = deque(maxlen=1000)
        self._stopping = threading.Event()
        self._serving: BackgroundServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        handler = type("BoundHandler", (_Handler,), {"owner": self})
        server = _Server(("127.0.0.1", self._port), handler)
        server.owner = self
        if self._tls_context is not None:
            self._tls_context.sni_callback = _remember_sni
            server.tls_context = self._tls_context
        self._serving = serve_in_background(server)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._serving is not None:
            self._serving.close(join_timeout=10)
            self._serving = None

    @property
    def port(self) -> int:
        if self._serving is None:
            raise RuntimeError("the receiver is not started; call start() first")
        return self._serving.port

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        """This receiver's URL; ``host`` may be a name a test's resolver maps to 127.0.0.1."""
        scheme = "https" if self._tls_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    # -- faults ----------------------------------------------------------------------------
    def queue_faults(self, *kinds: str) -> None:
        """The next requests (any path) get these faults, in order."""
        _check_kinds(kinds)
        with self._lock:
            self._plan.queued.extend(kinds)

    def set_path_fault(self, path: str, kind: str | None) -> None:
        """Every request to ``path`` gets ``kind`` (None clears it)."""
        with self._lock:
            if kind is None:
                self._plan.sticky.pop(path, None)
            else:
                _check_kinds([kind])
                self._plan.sticky[path] = kind

    def set_fault_rate(
        self, rate: float, kinds: Sequence[str] = ("500", "drop", "timeout"), seed: int = 0
    ) -> None:
        """Inject a fault into a ``rate`` share of requests, drawn from ``kinds`` by ``seed``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {rate}")
        _check_kinds(kinds)
        with self._lock:
            self._plan.rate = rate
            self._plan.kinds = tuple(kinds)
            self._plan.rng = random.Random(seed)

    def _next_fault(self, path: str) -> str | None:
        with self._lock:
            return self._plan.next_fault(path)

    # -- records ---------------------------------------------------------------------------
    def _record(self, request: ReceivedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def requests(self) -> list[ReceivedRequest]:
        """Every request so far, faulted ones included, in arrival order."""
        with self._lock:
            return list(self._requests)

    def delivered(self) -> list[ReceivedRequest]:
        """The requests the receiver accepted (2xx)."""
        return [r for r in self.requests() if r.delivered]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(
        self, predicate: Callable[[list[ReceivedRequest]], bool], timeout: float = 10.0
    ) -> bool:
        """Wait until ``predicate(requests)`` holds; False if ``timeout`` passes first."""
        with self._changed:
            return wait_until(self._changed, lambda: predicate(list(self._requests)), timeout)

    def wait_for_delivered_ids(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` distinct ``webhook-id`` values (or requests) were accepted."""

        def enough(requests: list[ReceivedRequest]) -> bool:
            ids = {r.webhook_id or str(i) for i, r in enumerate(requests) if r.delivered}
            return len(ids) >= count

        return self.wait_for(enough, timeout)

    def _pause(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _remember_sni(
    connection: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, context: ssl.SSLContext
) -> None:
    """``sni_callback``: keep the requested name on the connection for the handler to read."""
    setattr(connection, "_receiver_sni", server_name)  # noqa: B010


class _Server(ThreadingHTTPServer):
    """One thread per connection; with ``tls_context`` the handshake runs in that thread."""

    daemon_threads = True
    # socketserver's default listen backlog (5) drops the SYNs of a burst of new connections
    # (two dispatcher processes opening 16 each); the client then retries after a full second.
    request_queue_size = 256
    owner: WebhookReceiver
    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)  # a client that never finishes its handshake cannot pin a thread
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.owner.server_log.append(f"TLS handshake with {client_address} failed: {exc}")
            return
        with tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is part of fault injection: note it, do not print a traceback."""
        self.owner.server_log.append(f"connection from {client_address} ended with an error")


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    raw_requestline: bytes  # set by handle_one_request before parse_request
    protocol_version = "HTTP/1.1"
    # The response's headers and body are separate writes: with Nagle on, the body waits for
    # the client's delayed ACK (~40 ms on Linux), which would be measured as delivery latency.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet: server messages go to ``server_log`` (bounded), not stderr."""
        self.owner.server_log.append(format % args)

    def do_POST(self) -> None:
        received_at, clock = utc_now(), time.perf_counter()
        length = min(int(self.headers.get("content-length") or 0), _MAX_BODY)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        signed = owner.secret is not None and self.path not in owner.unsigned_paths
        valid = verify_signature(owner.secret or "", body, headers) if signed else None
        fault = owner._next_fault(self.path)
        if fault is None and valid is False and owner.reject_bad_signature:
            fault = "bad_signature"
        status = _status_for(fault)
        sni = getattr(self.connection, "_receiver_sni", None)
        # Recorded before the answer goes out: a client holding its answer must find its
        # request in ``requests()`` (recording afterwards raced the client's next assertion).
        owner._record(
            ReceivedRequest(received_at, clock, self.path, headers, body, fault, status, valid, sni)
        )
        self._answer(fault, status)

    def _answer(self, fault: str | None, status: int | None) -> None:
        owner = self.owner
        if status is None:
            if fault == "timeout":
                owner._pause(owner.hang_s)
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may have hung up already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "late":
            owner._pause(owner.hang_s)  # processed, but the answer comes after the client left
            self.close_connection = True
        elif fault == "slow":
            owner._pause(owner.slow_s)
        elif status == 200 and owner.delay_s > 0:
            owner._pause(owner.delay_s)
        extra = {"Retry-After": owner.retry_after} if status == 429 else {}
        self._send(status, extra)

    def parse_request(self) -> bool:
        return parse_request(self, self.raw_requestline)

    def _send(self, status: int, extra: dict[str, str]) -> None:
        answer = response_bytes(status, extra, self.version_string())
        self.log_request(status, len(answer))
        try:
            self.wfile.write(answer)
        except OSError:  # the client already gave up (a ``late`` answer): nobody to tell
            self.close_connection = True


_FAULT_STATUS = {"500": 500, "503": 503, "429": 429, "410": 410, "bad_signature": 401}


def _status_for(fault: str | None) -> int | None:
    """What the receiver answers to ``fault``: None for a connection it drops unanswered."""
    if fault in ("timeout", "drop"):
        return None
    return _FAULT_STATUS.get(fault or "", 200)


def _check_kinds(kinds: Iterable[str]) -> None:
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; allowed: {', '.join(FAULT_KINDS)}")
