"""The provider simulator: OpenAI and Anthropic HTTP APIs on loopback, for tests and offline runs.

It stands in for the paid LLM APIs only (our own infrastructure is always real). Routes:
``POST /{provider}/v1/chat/completions`` (OpenAI) and ``POST /{provider}/v1/messages``
(Anthropic). Each provider behaves per a seeded :class:`SimulationProfile` (lognormal latency,
fault rates for 429 + Retry-After, 500, 503, timeouts, connection resets and malformed bodies);
tests and oracles can force a provider's state at run time (down, slow, faulty). Answers come from
script rules or a deterministic default; usage is the documented 4-characters-per-token count.
Every request is logged, and everything it reports is marked simulated.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_platform._loopback import BackgroundServer, StartStopContext, serve_in_background
from agent_platform.models.simulation_profile import (
    FAULT_KINDS,
    ProviderProfile,
    ScriptRule,
    SimulationProfile,
)
from agent_platform.models.simulator_protocol import (
    ParsedRequest,
    error_body,
    parse_request,
    success_body,
)
from agent_platform.models.tokens import count_text_tokens, count_tokens

__all__ = ["FORCED_MODES", "ForcedState", "ProviderSimulator", "SimulatedRequest"]

FORCED_MODES = ("healthy", "down", "slow", "faulty")
_STATUS = {"rate_limited": 429, "server_error": 500, "unavailable": 503, "timeout": 504}
_ROUTES = {"chat/completions": "openai", "messages": "anthropic"}
_LOG_LIMIT = 200_000


@dataclass(frozen=True)
class ForcedState:
    """A provider's state forced by a test: ``mode`` plus the fault used by down/faulty."""

    mode: str = "healthy"
    fault: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class SimulatedRequest:
    """One request the simulator received (all of them are simulated traffic)."""

    seq: int
    provider: str
    endpoint: str
    model: str
    status: int
    fault: str | None
    latency_ms: float
    correlation_id: str | None
    prompt_tokens: int
    completion_tokens: int
    received_at: float
    simulated: bool = True
    drawn_latency_ms: float = 0.0
    """The latency the profile drew for this request (what the simulator slept before
    answering), free of this machine's scheduling noise; ``latency_ms`` is the measured one."""


class ProviderSimulator(StartStopContext):
    """A threaded HTTP server on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        profile: SimulationProfile | None = None,
        *,
        script: Sequence[ScriptRule] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.profile = profile or SimulationProfile()
        self._script: list[ScriptRule] = list(script)
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._log: collections.deque[SimulatedRequest] = collections.deque(maxlen=_LOG_LIMIT)
        self._seq = 0
        self._forced: dict[str, ForcedState] = {}
        self._rngs: dict[str, random.Random] = {}
        self._serving: BackgroundServer | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._serving is None:
            raise RuntimeError("the provider simulator is not running; call start() first")
        return f"http://{self._host}:{self._serving.port}"

    def url_for(self, provider: str) -> str:
        """The base URL of ``provider`` (append ``/v1/...`` paths to it)."""
        return f"{self.base_url}/{provider}"

    def start(self) -> ProviderSimulator:
        server = _Server((self._host, self._port), _handler_for(self))
        server.daemon_threads = True
        self._stopping.clear()
        self._serving = serve_in_background(server)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._serving is not None:
            self._serving.close(join_timeout=5)
            self._serving = None

    def set_script(self, rules: Iterable[ScriptRule]) -> None:
        """Replace the script rules (first match wins)."""
        with self._lock:
            self._script = list(rules)

    def force(
        self,
        provider: str,
        mode: str = "healthy",
        *,
        fault: str | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Force ``provider``'s state: ``down`` (every call fails with ``fault``, default 503),
        ``slow`` (latency x the profile's slow_factor, or ``latency_ms``), ``faulty`` (every
        call fails with ``fault``), ``healthy`` (the profile again)."""
        if mode not in FORCED_MODES:
            raise ValueError(f"mode {mode!r} is not allowed; allowed: {FORCED_MODES}")
        if fault is not None and fault not in FAULT_KINDS:
            raise ValueError(f"fault {fault!r} is not allowed; allowed: {FAULT_KINDS}")
        if mode in ("down", "faulty"):
            fault = fault or "unavailable"
        with self._lock:
            self._forced[provider] = ForcedState(mode, fault, latency_ms)

    def reset_states(self) -> None:
        with self._lock:
            self._forced.clear()

    def state(self, provider: str) -> ForcedState:
        with self._lock:
            return self._forced.get(provider, ForcedState())

    def expected_latency_ms(self, provider: str) -> float:
        """The median latency ``provider`` answers with in its current state."""
        profile = self.profile.for_provider(provider)
        state = self.state(provider)
        if state.latency_ms is not None:
            return state.latency_ms
        factor = profile.slow_factor if state.mode == "slow" else 1.0
        return profile.latency.median_ms * factor

    def is_available(self, provider: str) -> bool:
        """False while ``provider`` is forced down or faulty."""
        return self.state(provider).mode not in ("down", "faulty")

    def requests(self, provider: str | None = None) -> list[SimulatedRequest]:
        """The request log (oldest first), optionally for one provider."""
        with self._lock:
            return [r for r in self._log if provider is None or r.provider == provider]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- request handling (called from the server's threads) ---------------------------------

    def _rng(self, provider: str) -> random.Random:
        rng = self._rngs.get(provider)
        if rng is None:
            digest = hashlib.sha256(f"{self.profile.seed}:{provider}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            self._rngs[provider] = rng
        return rng

    def _draw(self, provider: str) -> tuple[str | None, float]:
        """Pick this request's fault (None: success) and latency, under the lock."""
        profile = self.profile.for_provider(provider)
        with self._lock:
            state = self._forced.get(provider, ForcedState())
            rng = self._rng(provider)
            roll, gauss = rng.random(), rng.gauss(0.0, 1.0)
        fault = state.fault if state.mode in ("down", "faulty") else None
        if fault is None and state.mode != "down":
            edge = 0.0
            for kind in FAULT_KINDS:
                edge += getattr(profile.faults, kind)
                if roll < edge:
                    fault = kind
                    break
        median = self.expected_latency_ms(provider)
        latency = max(profile.latency.min_ms, median * math.exp(profile.latency.sigma * gauss))
        return fault, latency

    def _answer(self, provider: str, request: ParsedRequest) -> tuple[str, int, bool]:
        prompt = request.prompt
        with self._lock:
            rule = next((r for r in self._script if r.matches(provider, prompt)), None)
        if rule is not None:
            text = rule.content
        else:
            digest = hashlib.sha256(f"{provider}\n{request.model}\n{prompt}".encode()).hexdigest()
            text = (
                f"Simulated answer from {provider}/{request.model} (prompt sha256 {digest[:16]})."
            )
        tokens = count_tokens(text)
        if request.max_tokens is not None and tokens > request.max_tokens:
            text = text[: request.max_tokens * 4]
            return text, count_tokens(text), True
        return text, tokens, False

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._log.append(SimulatedRequest(seq=self._seq, **entry))

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    """Clients that hang up (after a timeout fault, or at shutdown) are expected, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _handler_for(sim: ProviderSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(_SimulatorHandler):
        simulator = sim

    return Handler


class _SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on Linux) and every "instant" answer would take that long.
    disable_nagle_algorithm = True
    simulator: ProviderSimulator

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the request log is the record."""
        return None

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("", "/health"):
            self._send(200, {"status": "ok", "simulated": True})
        else:
            self._send(404, {"error": {"message": "not found"}, "simulated": True})

    def do_POST(self) -> None:
        started = time.perf_counter()
        parts = self.path.split("?", 1)[0].strip("/").split("/", 2)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        api = _ROUTES.get(parts[2]) if len(parts) == 3 and parts[1] == "v1" else None
        if api is None:
            self._send(404, {"error": {"message": f"no route {self.path}"}, "simulated": True})
            return
        provider = parts[0]
        try:
            request = parse_request(api, json.loads(raw or b"{}"))
        except (ValueError, TypeError) as exc:
            self._send(400, error_body(api, 400, f"bad request: {exc}"))
            return
        self._serve(provider, api, request, started)

    def _serve(self, provider: str, api: str, request: ParsedRequest, started: float) -> None:
        sim = self.simulator
        fault, latency_ms = sim._draw(provider)
        profile = sim.profile.for_provider(provider)
        sim._sleep(latency_ms / 1000.0)
        prompt_tokens = count_text_tokens(request.texts)
        if fault is not None:
            # Logged before misbehaving: a client that sees the fault also sees the log entry.
            status = {"reset": 0, "malformed": 200}.get(fault, _STATUS.get(fault, 0))
            self._log(provider, api, request, status, fault, started, (0, 0), latency_ms)
            self._fault(api, fault, profile)
        elif request.stream:
            self._log(provider, api, request, 400, None, started, (0, 0), latency_ms)
            self._send(400, error_body(api, 400, "the simulator does not stream"))
        else:
            text, completion_tokens, truncated = sim._answer(provider, request)
            usage = (prompt_tokens, completion_tokens)
            body = success_body(api, uuid.uuid4().hex[:12], request.model, text, *usage, truncated)
            self._log(provider, api, request, 200, None, started, usage, latency_ms)
            self._send(200, body)

    def _log(
        self,
        provider: str,
        api: str,
        request: ParsedRequest,
        status: int,
        fault: str | None,
        started: float,
        usage: tuple[int, int],
        drawn_ms: float,
    ) -> None:
        self.simulator._record(
            {
                "provider": provider,
                "endpoint": "messages" if api == "anthropic" else "chat.completions",
                "model": request.model,
                "status": status,
                "fault": fault,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
                "correlation_id": self.headers.get("x-correlation-id"),
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "received_at": time.time(),
                "drawn_latency_ms": drawn_ms,
            }
        )

    def _fault(self, api: str, fault: str, profile: ProviderProfile) -> None:
        """Misbehave as ``fault`` says."""
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "malformed":
            self._send_raw(200, b'{"id": "simulated-malformed", "choices": [', "application/json")
            return
        if fault == "timeout":
            # Sleep past the client's timeout; the client has given up by the time we answer.
            self.simulator._sleep(profile.timeout_sleep_s)
            self.close_connection = True
        status = _STATUS[fault]
        headers = {"Retry-After": f"{profile.retry_after_s:g}"} if status == 429 else {}
        self._send(status, error_body(api, status, f"simulated {fault}"), headers)

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(status, json.dumps(body).encode(), "application/json", headers)

    def _send_raw(
        self, status: int, payload: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Simulated", "true")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout fired first): exactly what a timeout fault is for.
            self.close_connection = True
