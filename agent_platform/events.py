"""The seam between event producers (budget alerts, graph runs) and the notification publisher.

Producers depend on this protocol, not on the publisher, so the budget guardian and the graph
work with no notifications configured and tests can hand in the real publisher or a recorder.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.engine import Connection

__all__ = ["EventSink"]


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
