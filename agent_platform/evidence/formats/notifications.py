"""``notifications/delivery_log.csv``: every delivery attempt to the loopback receivers.

One row per attempt (``attempt`` counts from 1). ``latency_ms`` is the attempt's own duration
(the receiver's answer time); ``end_to_end_ms`` is the time from publish to the end of that
attempt, retries and backoff included. A notification counts as delivered to a destination
when one of its attempts there has ``status=delivered``; the delivery latency figure is the
p95 of ``end_to_end_ms`` over those deliveries. ``correlation_id`` must be on every row.
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

__all__ = ["COLUMNS", "DELIVERED", "DeliveryRow", "figures", "write"]

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
)
DELIVERED = "delivered"


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery attempt as the publisher recorded it."""

    timestamp: str
    destination: str
    correlation_id: str
    status: str
    latency_ms: float
    attempt: int
    notification_id: str
    channel: str
    end_to_end_ms: float


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
                "latency_ms": fmt_ms(r.latency_ms),
                "attempt": r.attempt,
                "notification_id": r.notification_id,
                "channel": r.channel,
                "end_to_end_ms": fmt_ms(r.end_to_end_ms),
            }
            for r in rows
        ),
    )


def figures(path: Path) -> dict[str, float | int | str]:
    """Success rate per (notification, destination), p95 latency of deliveries, coverage."""
    rows = read_csv(path, COLUMNS)
    pairs: dict[tuple[str, str], bool] = {}
    latencies: list[float] = []
    for line, row in enumerate(rows, start=2):
        key = (row["notification_id"], row["destination"])
        delivered = row["status"] == DELIVERED
        pairs[key] = pairs.get(key, False) or delivered
        if delivered:
            latencies.append(parse_float(path, line, "end_to_end_ms", row["end_to_end_ms"]))
    with_id = sum(bool(r["correlation_id"].strip()) for r in rows)
    return {
        "delivery_success_rate": round_ratio(sum(pairs.values()) / len(pairs))
        if pairs
        else NOT_MEASURED,
        "delivery_latency_p95_ms": round_ms(percentile(latencies, 95))
        if latencies
        else NOT_MEASURED,
        "correlation_id_coverage": round_ratio(with_id / len(rows)) if rows else NOT_MEASURED,
        "notifications": len(pairs),
        "attempts": len(rows),
    }
