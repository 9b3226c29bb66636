"""A lean keep-alive HTTP/1.1 transport for the dispatcher, behind httpx's transport interface.

Profiling the dispatcher showed httpx's default transport (httpcore) costing about four times
the CPU of the standard library's ``http.client`` per request, most of it in its connection
pool's locking and state machine, with 16 worker threads queuing on one pool lock. This
transport keeps the ``httpx.BaseTransport`` seam (tests still hand in ``httpx.MockTransport``)
but sends each request over a pooled ``http.client`` connection:

- connections are pooled per (scheme, address, port, TLS server name) and reused only when the
  previous response was read to its end, the server did not ask to close, the connection was
  idle for less than :data:`KEEPALIVE_S`, and its socket has nothing to read (a server that
  closed an idle connection is noticed before a request is written to it, never after);
- there are no retries: one ``handle_request`` is one HTTP request (an attempt row each);
- https connects to the URL's host (the pinned address) while TLS sends the ``sni_hostname``
  extension as server name and verifies the certificate against it;
- every failure is raised as the httpx exception of the same meaning (connect/read/write
  timeout or error, protocol error), so :class:`HttpSender` classifies them as before.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import httpx

__all__ = ["KEEPALIVE_S", "Endpoint", "PooledHttpTransport"]

#: An idle connection older than this is closed rather than reused (httpx's default too).
KEEPALIVE_S = 5.0
_MAX_IDLE_PER_KEY = 64
_CHUNK = 16 * 1024

_Key = tuple[str, str, int, str]


@dataclass(frozen=True)
class Endpoint:
    """Where a request goes: scheme, the (pinned) address, port, TLS server name, path+query."""

    scheme: str
    address: str
    port: int
    server_name: str
    path: str


class _PinnedHttps(http.client.HTTPConnection):
    """TLS to ``host`` (an address) verified against ``server_name``."""

    default_port = 443

    def __init__(
        self, host: str, port: int, timeout: float, context: ssl.SSLContext, server_name: str
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._context = context
        self._server_name = server_name

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


@dataclass
class _Pooled:
    connection: http.client.HTTPConnection
    idle_since: float = field(default_factory=time.monotonic)

    def reusable(self, now: float) -> bool:
        sock = self.connection.sock
        if sock is None or now - self.idle_since > KEEPALIVE_S:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable  # EOF or stray bytes: the server is done with it


class _ResponseStream(httpx.SyncByteStream):
    """The body of one response; closing it returns the connection to the pool if it can."""

    def __init__(
        self, response: http.client.HTTPResponse, release: _Release, read_timeout: float
    ) -> None:
        self._response = response
        self._release = release
        self._read_timeout = read_timeout

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self._response.read(_CHUNK)
            except TimeoutError as exc:
                raise httpx.ReadTimeout(f"read timed out after {self._read_timeout:g}s") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        complete = self._response.isclosed() and not self._response.will_close
        self._response.close()
        self._release(complete)


class _Release:
    """Hands a connection back to its pool (a complete exchange) or closes it."""

    def __init__(
        self, pool: PooledHttpTransport, key: _Key, connection: http.client.HTTPConnection
    ) -> None:
        self._pool, self._key, self._connection = pool, key, connection
        self._done = False

    def __call__(self, reusable: bool) -> None:
        if self._done:
            return
        self._done = True
        if reusable:
            self._pool._put(self._key, self._connection)
        else:
            self._connection.close()


class PooledHttpTransport(httpx.BaseTransport):
    """``http.client`` connections, pooled and reused, for httpx requests (no retries).

    Args:
        ssl_context: the verifying context for https (None: httpx's default trust store).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._context = ssl_context
        self._idle: dict[_Key, list[_Pooled]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = httpx.create_ssl_context(trust_env=False)
        return self._context

    def _get(self, key: _Key) -> http.client.HTTPConnection | None:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                pooled = idle.pop() if idle else None
            if pooled is None:
                return None
            if pooled.reusable(now):
                return pooled.connection
            pooled.connection.close()

    def _put(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < _MAX_IDLE_PER_KEY:
                idle.append(_Pooled(connection))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pooled = [p for idle in self._idle.values() for p in idle]
            self._idle.clear()
        for item in pooled:
            item.connection.close()

    def _new(self, key: _Key, connect_timeout: float) -> http.client.HTTPConnection:
        scheme, address, port, server_name = key
        if scheme == "https":
            return _PinnedHttps(address, port, connect_timeout, self._tls(), server_name)
        return http.client.HTTPConnection(address, port, timeout=connect_timeout)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        server_name = str(request.extensions.get("sni_hostname") or url.host)
        endpoint = Endpoint(url.scheme, url.host, port, server_name, url.raw_path.decode("ascii"))
        timeouts = request.extensions.get("timeout", {})
        connect_s = float(timeouts.get("connect") or 5.0)
        read_s = float(timeouts.get("read") or connect_s)
        headers = dict(request.headers.items())
        response, release = self._open(
            endpoint, request.method, request.read(), headers, connect_s, read_s
        )
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_ResponseStream(response, release, read_s),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def post(
        self,
        endpoint: Endpoint,
        body: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
        limit: int,
    ) -> tuple[int, Mapping[str, str], bool]:
        """One POST with no httpx objects on the way (the dispatcher's hot path).

        Returns the status, the response headers (names in lower case) and whether the body
        ran past ``limit``
        bytes (the rest is not read; the connection is then closed, not pooled). Failures
        raise the httpx exceptions :meth:`handle_request` raises.
        """
        response, release = self._open(endpoint, "POST", body, headers, timeout_s, timeout_s)
        stream = _ResponseStream(response, release, timeout_s)
        received = 0
        try:
            for chunk in stream:
                received += len(chunk)
                if received > limit:
                    break
        finally:
            stream.close()
        headers_seen = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers_seen, received > limit

    def _open(
        self,
        endpoint: Endpoint,
        method: str,
        body: bytes,
        headers: Mapping[str, str],
        connect_s: float,
        read_s: float,
    ) -> tuple[http.client.HTTPResponse, _Release]:
        key: _Key = (endpoint.scheme, endpoint.address, endpoint.port, endpoint.server_name)
        connection = self._get(key) or self._connect(key, connect_s)
        if connection.sock is not None:
            connection.sock.settimeout(read_s)
        release = _Release(self, key, connection)
        response = self._exchange(connection, method, endpoint.path, body, headers, read_s, release)
        return response, release

    def _connect(self, key: _Key, timeout_s: float) -> http.client.HTTPConnection:
        connection = self._new(key, timeout_s)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(f"connect timed out after {timeout_s:g}s") from exc
        except OSError as exc:  # ssl.SSLError included: a failed handshake is a failed connect
            connection.close()
            raise httpx.ConnectError(str(exc)) from exc
        return connection

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        read_s: float,
        release: _Release,
    ) -> http.client.HTTPResponse:
        try:
            connection.request(method, path, body=body, headers=dict(headers))
        except TimeoutError as exc:
            release(False)
            raise httpx.WriteTimeout(f"write timed out after {read_s:g}s") from exc
        except OSError as exc:
            release(False)
            raise httpx.WriteError(f"{type(exc).__name__}: {exc}") from exc
        try:
            return connection.getresponse()
        except TimeoutError as exc:
            release(False)
            raise httpx.ReadTimeout(f"no answer within {read_s:g}s") from exc
        except (http.client.HTTPException, OSError) as exc:
            release(False)
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
