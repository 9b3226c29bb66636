"""The delivery log's figures from hand-built rows: who counts, and in which time."""

from __future__ import annotations

from pathlib import Path

from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.formats.notifications import PENDING, DeliveryRow, figures, write

T = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:00:00.020000Z"


def row(nid: str, status: str, **extra: object) -> DeliveryRow:
    base: dict[str, object] = {
        "timestamp": T,
        "destination": "hook",
        "correlation_id": f"c-{nid}",
        "status": status,
        "latency_ms": 2.0,
        "attempt": 1,
        "notification_id": nid,
        "channel": "webhook",
        "end_to_end_ms": 10.0,
        "published_correlation_id": f"c-{nid}",
        "time_scale": 0.05,
    }
    return DeliveryRow(**{**base, **extra})  # type: ignore[arg-type]


def test_refused_pairs_leave_the_success_rate_but_not_the_all_pairs_rate(tmp_path: Path) -> None:
    rows = [
        row("a", "retrying", attempt=1),
        row("a", "delivered", attempt=2, end_to_end_ms=30.0, timestamp=LATER),
        row("b", "delivered"),
        row("c", "failed", correlation_id="", receiver_refused=True),
        row("d", PENDING, correlation_id="", attempt=0),
    ]
    path = tmp_path / "log.csv"
    write(path, rows)
    found = figures(path)
    assert (found["delivery_success_rate__k"], found["delivery_success_rate__n"]) == (2, 3)
    assert found["delivery_success_rate_all_pairs__n"] == 4
    assert found["receiver_refused_pairs"] == 1 and found["pending_pairs"] == 1
    assert (found["correlation_id_coverage__k"], found["correlation_id_coverage__n"]) == (2, 3)
    # The pair retried: its 18 ms gap (20 ms apart, 2 ms attempt) was compressed 20 times, so
    # 30 ms measured are 30 + 18 * 19 = 372 ms simulated; the other pair's 10 ms were real.
    assert found["delivery_latency_p95_ms__n"] == 2
    assert 10.0 < float(found["delivery_latency_p95_ms"]) <= 372.0


def test_a_held_attempt_is_stretched_and_an_ordinary_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write(path, [row("a", "delivered", latency_ms=100.0, end_to_end_ms=105.0)])
    assert figures(path)["delivery_latency_p95_ms"] == 105.0
    write(
        path, [row("a", "delivered", latency_ms=100.0, end_to_end_ms=105.0, receiver_fault="slow")]
    )
    assert figures(path)["delivery_latency_p95_ms"] == 105.0 + 100.0 * 19


def test_a_wrong_correlation_id_is_not_coverage(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write(path, [row("a", "delivered", correlation_id="someone-else")])
    found = figures(path)
    assert found["correlation_id_coverage"] == 0.0 and found["delivery_success_rate"] == 1.0


def test_nothing_delivered_is_not_measured(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write(path, [row("a", PENDING, attempt=0)])
    assert figures(path)["delivery_latency_p95_ms"] == NOT_MEASURED
