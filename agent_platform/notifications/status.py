"""The outbox's read side: a notification's delivery status and the delivery log.

``get_delivery_status`` answers "what happened to this notification": one entry per destination
and every attempt. The delivery log is the flat, per-attempt view the evidence job writes to
``notifications/delivery_log.csv``. Every timestamp leaves as UTC ISO 8601.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.errors import StorageError
from agent_platform.fileio import write_text_atomic
from agent_platform.notifications.ids import as_utc, iso_utc
from agent_platform.notifications.tables import delivery_attempts, outbox

__all__ = [
    "DELIVERY_LOG_COLUMNS",
    "AttemptRecord",
    "DeliveryLogRow",
    "DestinationStatus",
    "NotificationStatus",
    "delivery_log",
    "notification_status",
    "write_delivery_log_csv",
]

DELIVERY_LOG_COLUMNS = (
    "timestamp",
    "destination",
    "correlation_id",
    "status",
    "latency_ms",
    "attempt",
)


@dataclass(frozen=True)
class AttemptRecord:
    """One delivery attempt (``status``: delivered, retrying, failed, gone or refused)."""

    outbox_id: str
    destination: str
    attempt: int
    status: str
    http_status: int | None
    latency_ms: float
    error: str | None
    timestamp: str


@dataclass(frozen=True)
class DestinationStatus:
    """One outbox row: the notification's state at one destination."""

    outbox_id: str
    destination: str
    status: str
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    last_error: str | None


@dataclass(frozen=True)
class NotificationStatus:
    """Everything known about one notification; ``destinations`` is empty if none matched."""

    notification_id: str
    event_type: str | None
    correlation_id: str | None
    created_at: str | None
    destinations: list[DestinationStatus]
    attempts: list[AttemptRecord]

    @property
    def delivered(self) -> bool:
        """True when every destination has it (vacuously true with no destinations)."""
        return all(d.status == "delivered" for d in self.destinations)


@dataclass(frozen=True)
class DeliveryLogRow:
    """One row of ``notifications/delivery_log.csv``."""

    timestamp: str
    destination: str
    correlation_id: str
    status: str
    latency_ms: float
    attempt: int


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(as_utc(value))


def notification_status(engine: Engine, notification_id: str) -> NotificationStatus:
    """The outbox rows and every attempt of ``notification_id``."""
    rows_q = sa.select(outbox).where(outbox.c.notification_id == notification_id)
    attempts_q = (
        sa.select(delivery_attempts)
        .where(delivery_attempts.c.notification_id == notification_id)
        .order_by(delivery_attempts.c.timestamp, delivery_attempts.c.id)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(rows_q.order_by(outbox.c.destination)).mappings().all()
            attempts = conn.execute(attempts_q).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(f"could not read status of {notification_id}: {describe(exc)}") from exc
    first = rows[0] if rows else None
    return NotificationStatus(
        notification_id=notification_id,
        event_type=first["event_type"] if first else None,
        correlation_id=first["correlation_id"] if first else None,
        created_at=_iso(first["created_at"]) if first else None,
        destinations=[_destination_status(r) for r in rows],
        attempts=[_attempt_record(a) for a in attempts],
    )


def _destination_status(row: RowMapping) -> DestinationStatus:
    return DestinationStatus(
        outbox_id=row["id"],
        destination=row["destination"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=_iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        delivered_at=_iso(row["delivered_at"]),
        last_error=row["last_error"],
    )


def _attempt_record(row: RowMapping) -> AttemptRecord:
    return AttemptRecord(
        outbox_id=row["outbox_id"],
        destination=row["destination"],
        attempt=int(row["attempt"]),
        status=row["status"],
        http_status=row["http_status"],
        latency_ms=float(row["latency_ms"]),
        error=row["error"],
        timestamp=iso_utc(as_utc(row["timestamp"])),
    )


def delivery_log(
    engine: Engine, since: datetime | None = None, *, limit: int | None = None
) -> list[DeliveryLogRow]:
    """Every attempt (at or after ``since`` when given), oldest first."""
    query = sa.select(
        delivery_attempts.c.timestamp,
        delivery_attempts.c.destination,
        delivery_attempts.c.correlation_id,
        delivery_attempts.c.status,
        delivery_attempts.c.latency_ms,
        delivery_attempts.c.attempt,
    ).order_by(delivery_attempts.c.timestamp, delivery_attempts.c.id)
    if since is not None:
        query = query.where(delivery_attempts.c.timestamp >= as_utc(since))
    if limit is not None:
        query = query.limit(limit)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StorageError(f"could not read the delivery log: {describe(exc)}") from exc
    return [
        DeliveryLogRow(
            timestamp=iso_utc(as_utc(r[0])),
            destination=r[1],
            correlation_id=r[2],
            status=r[3],
            latency_ms=round(float(r[4]), 3),
            attempt=int(r[5]),
        )
        for r in rows
    ]


def write_delivery_log_csv(path: Path, rows: list[DeliveryLogRow]) -> Path:
    """Write ``rows`` with the header ``timestamp,destination,correlation_id,status,latency_ms,attempt``.

    Written to a temporary sibling and renamed, so a reader never sees half a file.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(DELIVERY_LOG_COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    write_text_atomic(path, buffer.getvalue())
    return path
