"""Checking one event for the publisher and building its outbox rows (no I/O).

The publisher validates every event of a batch through these functions before it writes
anything: the event type, the payload (a JSON object within ``max_payload_bytes``), the
correlation id (explicit, else taken from the payload, else a new UUID4) and the destinations.
Each refusal is a typed error naming the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from agent_platform.canonical import canonical_json
from agent_platform.errors import DestinationError, InvalidInputError, PayloadError
from agent_platform.notifications.destinations import ResolvedDestination, matches_event
from agent_platform.notifications.ids import new_correlation_id, new_message_id
from agent_platform.notifications.outbox import OutboxStatus

__all__ = [
    "check_event_type",
    "outbox_rows",
    "payload_json",
    "resolve_correlation_id",
    "select_targets",
]

_EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
_MAX_CORRELATION_ID = 128
# Values producers use for "no id"; treated as absent so a real id is generated instead.
_PLACEHOLDERS = frozenset({"", "n/a", "na", "none", "null", "unknown", "-", "undefined"})


def check_event_type(event_type: str) -> None:
    """InvalidInputError unless ``event_type`` is 1-128 characters of the allowed set."""
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise InvalidInputError(
            f"event_type {event_type!r} is not allowed: 1-128 characters of letters, digits "
            "and _ . : / - (starting with a letter or digit)"
        )


def payload_json(payload: Mapping[str, Any], limit: int) -> str:
    """The canonical JSON text of ``payload``; PayloadError if not a mapping or too large."""
    if not isinstance(payload, Mapping):
        raise PayloadError(
            f"payload must be a JSON object (a mapping), got {type(payload).__name__}"
        )
    data = canonical_json(dict(payload))
    if len(data) > limit:
        raise PayloadError(
            f"payload is {len(data)} bytes as canonical JSON; the limit is {limit} "
            "(max_payload_bytes in configs/notifications.yaml)"
        )
    return data.decode("utf-8")


def resolve_correlation_id(explicit: str | None, payload: Mapping[str, Any]) -> str:
    """``explicit``, else the payload's ``correlation_id`` or ``trace_id``, else a new UUID4."""
    if explicit is not None:
        if not isinstance(explicit, str) or not _usable(explicit):
            raise InvalidInputError(
                f"correlation_id {explicit!r} is not allowed: a non-placeholder string of "
                f"1-{_MAX_CORRELATION_ID} characters, or None to take it from the event"
            )
        return explicit.strip()
    for key in ("correlation_id", "trace_id"):
        value = payload.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool):
            text = str(value).strip()
            if _usable(text):
                return text
    return new_correlation_id()


def _usable(value: str) -> bool:
    text = value.strip()
    return (
        0 < len(text) <= _MAX_CORRELATION_ID
        and text.lower() not in _PLACEHOLDERS
        and text.isprintable()
    )


def select_targets(
    destinations: Mapping[str, ResolvedDestination],
    event_type: str,
    names: Sequence[str] | None,
) -> list[str]:
    """The destinations to write: those matching ``event_type`` (None), else ``names``."""
    if names is None:
        return [n for n, d in destinations.items() if matches_event(d.config, event_type)]
    if isinstance(names, str) or not names:
        raise DestinationError(
            "destinations must be a non-empty list of destination names (None means all)"
        )
    known = sorted(destinations)
    for name in names:
        if name not in destinations:
            raise DestinationError(
                f"unknown or disabled destination {name!r}; enabled: {known or 'none'}"
            )
    return list(dict.fromkeys(names))


def outbox_rows(
    notification_id: str,
    event_type: str,
    correlation_id: str,
    body: str,
    targets: Sequence[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """One pending outbox row per target, due now."""
    return [
        {
            "id": new_message_id(),
            "notification_id": notification_id,
            "destination": name,
            "event_type": event_type,
            "correlation_id": correlation_id,
            "payload": body,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": None,
            "created_at": now,
            "delivered_at": None,
        }
        for name in targets
    ]
