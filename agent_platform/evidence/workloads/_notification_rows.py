"""Delivery-log rows of one published (notification, destination) pair, from the outbox's
status and the receivers' captures."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from agent_platform.evidence.formats.notifications import PENDING, PERMANENT_FAULTS, DeliveryRow
from agent_platform.evidence.workloads._notification_capture import ReceiverEvents
from agent_platform.notifications.status import AttemptRecord, NotificationStatus

__all__ = ["pair_rows"]


def _ms_between(start: str | None, end: str | None) -> float:
    if start is None or end is None:
        return 0.0
    parse = datetime.fromisoformat
    delta = parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    return max(0.0, delta.total_seconds() * 1000.0)


def _fault_during(events: list[tuple[datetime, str]], started: str, latency_ms: float) -> str:
    """The fault of the receiver event that fell within the attempt (5 ms of clock slack)."""
    start = datetime.fromisoformat(started.replace("Z", "+00:00"))
    end = start + timedelta(milliseconds=latency_ms + 5.0)
    start -= timedelta(milliseconds=5.0)
    inside = [kind for when, kind in events if start <= when <= end]
    return inside[0] if inside else ""


def pair_rows(
    status: NotificationStatus,
    destination: str,
    channel: str,
    captured: dict[tuple[str, str], str],
    faults: ReceiverEvents,
    time_scale: float,
) -> list[DeliveryRow]:
    """The rows of one published pair: its attempts, or one ``pending`` row.

    ``faults`` holds, per pair, what the receiver saw (when, and the fault it injected); an
    attempt's fault is the one the receiver saw during that attempt.
    """
    key = (destination, status.notification_id)
    injected = faults.get(key, [])
    delivered_at = {d.destination: d.delivered_at for d in status.destinations}
    base = DeliveryRow(
        timestamp=status.created_at or "",
        destination=destination,
        correlation_id=captured.get(key, ""),
        status=PENDING,
        latency_ms=0.0,
        attempt=0,
        notification_id=status.notification_id,
        channel=channel,
        end_to_end_ms=0.0,
        published_correlation_id=status.correlation_id or "",
        receiver_refused=any(kind in PERMANENT_FAULTS for _, kind in injected),
        time_scale=time_scale,
    )
    attempts = [a for a in status.attempts if a.destination == destination]
    delivered = delivered_at.get(destination)
    return [_attempt_row(base, a, status.created_at, delivered, injected) for a in attempts] or [
        base
    ]


def _attempt_row(
    base: DeliveryRow,
    attempt: AttemptRecord,
    created_at: str | None,
    delivered_at: str | None,
    injected: list[tuple[datetime, str]],
) -> DeliveryRow:
    """``base`` filled in with one attempt; its end-to-end time ends at the delivery when the
    attempt delivered, else at the attempt's start."""
    ended = (delivered_at if attempt.status == "delivered" else None) or attempt.timestamp
    return replace(
        base,
        timestamp=attempt.timestamp,
        status=attempt.status,
        latency_ms=attempt.latency_ms,
        attempt=attempt.attempt,
        receiver_fault=_fault_during(injected, attempt.timestamp, attempt.latency_ms),
        end_to_end_ms=_ms_between(created_at, ended),
    )
