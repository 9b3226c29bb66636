"""``notifications/delivery_log.csv``: every delivery attempt to the loopback receivers.

One row per attempt (``attempt`` counts from 1), plus one ``status=pending`` row (``attempt``
0, blank latencies) for every published (notification, destination) pair that was never
attempted, so the file holds every published pair. ``latency_ms`` is the attempt's own
duration (the receiver's answer time); ``end_to_end_ms`` is the time from publish to the end
of that attempt, retries and backoff included.

- ``delivery_success_rate``: pairs with a ``delivered`` attempt over all pairs in the file
  (pending pairs count as not delivered).
- ``delivery_latency_p95_ms``: p95 of ``end_to_end_ms`` over the delivered attempts.
- ``correlation_id_coverage``: pairs whose receiver captured the correlation id over all
  pairs. ``correlation_id`` is the id the loopback receiver actually captured for the pair
  (webhook body and header, Slack body and header, e-mail subject and body; blank when
  nothing carrying it arrived); ``published_correlation_id`` is the id the outbox published,
  and when it is given the captured id must equal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.stats import percentile

__all__ = ["COLUMNS", "DELIVERED", "PENDING", "DeliveryRow", "figures", "write"]

COLUMNS = (
    "timestamp",
    "destination",
    "correlation_id",
    "status",
    "latency_ms",
    "attempt",
    "notification_id",
    "channel",
    "end_to_end_ms",
    "published_correlation_id",
)
DELIVERED = "delivered"
PENDING = "pending"


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery attempt as the publisher recorded it (or a never-attempted pair).

    ``correlation_id`` is what the receiver captured for the pair; ``published_correlation_id``
    what the outbox published.
    """

    timestamp: str
    destination: str
    correlation_id: str
    status: str
    latency_ms: float
    attempt: int
    notification_id: str
    channel: str
    end_to_end_ms: float
    published_correlation_id: str = ""


def _ms(row: DeliveryRow, value: float) -> str:
    return "" if row.status == PENDING else fmt_ms(value)


def write(path: Path, rows: Sequence[DeliveryRow]) -> int:
    return write_csv(
        path,
        COLUMNS,
        (
            {
                "timestamp": r.timestamp,
                "destination": r.destination,
                "correlation_id": r.correlation_id,
                "status": r.status,
                "latency_ms": _ms(r, r.latency_ms),
                "attempt": r.attempt,
                "notification_id": r.notification_id,
                "channel": r.channel,
                "end_to_end_ms": _ms(r, r.end_to_end_ms),
                "published_correlation_id": r.published_correlation_id,
            }
            for r in rows
        ),
    )


def _carried(row: dict[str, str]) -> bool:
    captured = row["correlation_id"].strip()
    published = row["published_correlation_id"].strip()
    return bool(captured) and (not published or captured == published)


def figures(path: Path) -> dict[str, float | int | str]:
    """Success rate and correlation-id coverage over every (notification, destination) pair,
    p95 latency of the deliveries."""
    rows = read_csv(path, COLUMNS)
    delivered: dict[tuple[str, str], bool] = {}
    covered: dict[tuple[str, str], bool] = {}
    latencies: list[float] = []
    for line, row in enumerate(rows, start=2):
        key = (row["notification_id"], row["destination"])
        ok = row["status"] == DELIVERED
        delivered[key] = delivered.get(key, False) or ok
        covered[key] = covered.get(key, False) or _carried(row)
        if ok:
            latencies.append(parse_float(path, line, "end_to_end_ms", row["end_to_end_ms"]))
    pairs = len(delivered)
    return {
        "delivery_success_rate": round_ratio(sum(delivered.values()) / pairs)
        if pairs
        else NOT_MEASURED,
        "delivery_latency_p95_ms": round_ms(percentile(latencies, 95))
        if latencies
        else NOT_MEASURED,
        "correlation_id_coverage": round_ratio(sum(covered.values()) / pairs)
        if pairs
        else NOT_MEASURED,
        "notifications": pairs,
        "pending_pairs": sum(r["status"] == PENDING for r in rows),
        "attempts": sum(r["status"] != PENDING for r in rows),
    }
