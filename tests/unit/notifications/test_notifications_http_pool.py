"""The pooled http.client transport against real loopback servers: reuse, staleness, no retries."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from agent_platform.notifications.http_pool import Endpoint, PooledHttpTransport
from agent_platform.notifications.testing import WebhookReceiver

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def post(transport: PooledHttpTransport, url: str, timeout_s: float = 2.0) -> httpx.Response:
    request = httpx.Request(
        "POST",
        url,
        content=b"{}",
        headers={"content-type": "application/json"},
        extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
    )
    response = transport.handle_request(request)
    response.read()
    response.close()
    return response


class TinyServer:
    """A raw HTTP/1.1 server counting connections and requests; it answers each request with
    ``answer`` (none: it drops the connection) and serves up to ``per_connection`` requests on
    one connection (None: as many as come) before closing it."""

    def __init__(self, answer: bytes = OK, per_connection: int | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self.closed = threading.Event()
        self._answer = answer
        self._per_connection = per_connection
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, contextlib.suppress(OSError):  # a client that hung up ends its connection
                self._serve_connection(conn)
            self.closed.set()

    def _serve_connection(self, conn: socket.socket) -> None:
        served, buffered = 0, b""
        while self._per_connection is None or served < self._per_connection:
            while b"\r\n\r\n" not in buffered:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, rest = buffered.partition(b"\r\n\r\n")
            length = _content_length(head)
            while len(rest) < length:
                rest += conn.recv(65536)
            buffered = rest[length:]
            self.requests += 1
            served += 1
            if not self._answer:
                return
            conn.sendall(self._answer)

    @contextmanager
    def running(self) -> Iterator[TinyServer]:
        self._thread.start()
        try:
            yield self
        finally:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self.listener.close()
            self._thread.join(timeout=5)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_sequential_requests_share_one_keep_alive_connection() -> None:
    with TinyServer().running() as server:
        transport = PooledHttpTransport()
        url = f"http://127.0.0.1:{server.port}/a"
        statuses = [post(transport, url).status_code for _ in range(5)]
        transport.close()
    assert statuses == [200] * 5
    assert (server.connections, server.requests) == (1, 5)


def test_a_connection_the_server_closed_is_not_reused() -> None:
    with TinyServer(per_connection=1).running() as server:
        transport = PooledHttpTransport()
        first = post(transport, f"http://127.0.0.1:{server.port}/x")
        assert server.closed.wait(5)  # the server is done with that connection
        second = post(transport, f"http://127.0.0.1:{server.port}/x")
        transport.close()
    assert (first.status_code, second.status_code) == (200, 200)
    assert (server.connections, server.requests) == (2, 2)


def test_a_dropped_request_is_an_error_and_is_not_retried() -> None:
    with TinyServer(answer=b"").running() as server:
        transport = PooledHttpTransport()
        with pytest.raises(httpx.RemoteProtocolError):
            post(transport, f"http://127.0.0.1:{server.port}/x")
        transport.close()
    assert (server.connections, server.requests) == (1, 1)


def test_no_answer_within_the_timeout_is_a_read_timeout() -> None:
    with WebhookReceiver(hang_s=2.0) as rx:
        rx.queue_faults("timeout")
        transport = PooledHttpTransport()
        with pytest.raises(httpx.ReadTimeout):
            post(transport, rx.url("/slow"), timeout_s=0.2)
        assert post(transport, rx.url("/after")).status_code == 200  # a fresh connection
        transport.close()
    assert [r.path for r in rx.requests()] == ["/slow", "/after"]


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    transport = PooledHttpTransport()
    with pytest.raises(httpx.ConnectError):
        post(transport, f"http://127.0.0.1:{port}/x")
    transport.close()


def test_other_schemes_are_unsupported() -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        PooledHttpTransport().handle_request(httpx.Request("POST", "ftp://127.0.0.1/x"))


def test_post_reads_a_huge_body_only_up_to_the_limit_and_drops_that_connection() -> None:
    size = 1024 * 1024
    huge = b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: %d\r\n\r\n" % size
    with TinyServer(answer=huge + b"x" * size).running() as server:
        transport = PooledHttpTransport()
        endpoint = Endpoint("http", "127.0.0.1", server.port, "127.0.0.1", "/big?q=1")
        status, headers, truncated = transport.post(endpoint, b"{}", {}, 2.0, limit=64 * 1024)
        again = transport.post(endpoint, b"{}", {}, 2.0, limit=2 * size)
        transport.close()
    assert (status, headers["retry-after"], truncated) == (503, "7", True)
    assert again[2] is False  # read whole under a larger limit
    assert (server.connections, server.requests) == (2, 2)  # the cut-off one was not reused
