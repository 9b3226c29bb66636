"""HttpSender reads at most MAX_RESPONSE_BYTES of a response body, then closes it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from agent_platform.notifications.http_sender import MAX_RESPONSE_BYTES, HttpSender
from agent_platform.notifications.outcome import OutcomeKind
from agent_platform.notifications.ssrf import AddressPolicy

CHUNK = 4096


class CountingStream(httpx.SyncByteStream):
    """A response body of ``total`` bytes that counts what was pulled and whether it closed."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield b"x" * CHUNK

    def close(self) -> None:
        self.closed = True


def _post(status: int, stream: CountingStream) -> tuple[OutcomeKind, str | None]:
    sender = HttpSender(
        AddressPolicy(),
        transport=httpx.MockTransport(lambda request: httpx.Response(status, stream=stream)),
        resolver=lambda host, port: ["93.184.215.14"],
    )
    outcome = sender.post("https://hooks.example.org/in", b"{}", {}, 5.0)
    sender.close()
    return outcome.kind, outcome.error


@pytest.mark.parametrize(
    ("status", "kind"), [(200, OutcomeKind.DELIVERED), (503, OutcomeKind.RETRY)]
)
def test_a_huge_response_is_read_only_up_to_the_limit(status: int, kind: OutcomeKind) -> None:
    stream = CountingStream(64 * 1024 * 1024)
    outcome_kind, error = _post(status, stream)
    assert outcome_kind is kind
    assert MAX_RESPONSE_BYTES < stream.pulled <= MAX_RESPONSE_BYTES + CHUNK
    assert stream.closed
    assert error is not None and f"over {MAX_RESPONSE_BYTES} bytes" in error
    if status == 503:
        assert error.startswith("HTTP 503; ")


def test_a_small_response_is_read_whole_and_not_flagged() -> None:
    stream = CountingStream(3 * CHUNK)
    assert _post(200, stream) == (OutcomeKind.DELIVERED, None)
    assert stream.pulled == 3 * CHUNK
    assert stream.closed
