"""The loopback receiver's own request parsing and answers, spoken to over a raw socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from agent_platform.notifications.testing import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rx:
        yield rx


def exchange(rx: WebhookReceiver, raw: bytes) -> bytes:
    """Send ``raw``, half-close, return everything the receiver answered until it closed."""
    with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_two_requests_on_one_connection_are_both_answered(receiver: WebhookReceiver) -> None:
    one = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    two = b"POST /b HTTP/1.1\r\nHost: x\r\nX-Folded: first\r\n  second\r\nContent-Length: 0\r\n\r\n"
    answer = exchange(receiver, one + two)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert b"Content-Type: application/json\r\n" in answer and b"Date: " in answer
    first, second = receiver.requests()
    assert (first.path, first.body, second.path) == ("/a", b"{}", "/b")
    assert second.headers["x-folded"] == "first second"


def test_http_1_0_closes_after_the_answer(receiver: WebhookReceiver) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(b"POST /old HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # the receiver closes: no half-close needed
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"POST /x HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\n: empty name\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", b"431"),
        # Left to the standard parser, which answers in its own (HTML) form.
        (b"POST /x HTTP/1.1 extra\r\n\r\n", b"400"),
    ],
)
def test_a_malformed_request_gets_an_error_and_is_not_recorded(
    receiver: WebhookReceiver, raw: bytes, code: bytes
) -> None:
    answer = exchange(receiver, raw)
    assert answer.startswith(b"HTTP/1.1 " + code) or b"Error code: " + code in answer
    assert receiver.requests() == []
