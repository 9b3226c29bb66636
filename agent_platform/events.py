"""The seam between event producers (budget alerts, graph runs) and the notification publisher.

Producers depend on this protocol, not on the publisher, so the budget guardian and the graph
work with no notifications configured and tests can hand in the real publisher or a recorder.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from sqlalchemy.engine import Connection

__all__ = ["EventSink", "RecordingSink"]


class EventSink(Protocol):
    """Anything that accepts an event for delivery and returns its notification id."""

    def publish(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        """Enqueue ``payload``; with ``connection``, inside the caller's transaction."""
        ...


class RecordingSink:
    """An :class:`EventSink` that keeps every event it is handed, in order (thread-safe).

    Shipped with the protocol for callers who want to see what a producer emits without a
    database: tests of the budget guardian and the graph use it.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        with self._lock:
            self.events.append(
                {"event_type": event_type, "payload": payload, "correlation_id": correlation_id}
            )
            return f"recorded-{len(self.events)}"

    def types(self) -> list[str]:
        """The event types received, in order."""
        with self._lock:
            return [event["event_type"] for event in self.events]
