"""Identifiers and UTC timestamps of notifications.

Ids are ULID-shaped (48-bit millisecond time + 80 random bits in Crockford base32) so they sort
by creation time in the outbox and in a receiver's log, and carry a prefix saying what they name:
``ntf_`` a notification, ``msg_`` one outbox row (the Standard-Webhooks ``webhook-id``, stable
across retries). Every timestamp leaves this package as UTC ISO 8601.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime

__all__ = [
    "as_utc",
    "iso_utc",
    "new_correlation_id",
    "new_message_id",
    "new_notification_id",
    "ulid",
    "utc_now",
]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID: time-ordered, 80 bits of randomness."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_notification_id() -> str:
    return f"ntf_{ulid()}"


def new_message_id() -> str:
    return f"msg_{ulid()}"


def new_correlation_id() -> str:
    """A fresh correlation id for an event that brought none (a UUID4, never a placeholder)."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to a naive value (SQLite returns naive datetimes) or convert an aware one."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and microseconds, e.g. ``2026-01-02T03:04:05.000006Z``."""
    return as_utc(value).isoformat(timespec="microseconds").replace("+00:00", "Z")
