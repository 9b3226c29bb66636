"""The notification publisher: validate an event, write it to the outbox, report its status.

``NotificationPublisher`` is the :class:`agent_platform.events.EventSink` that the budget
guardian and the agent graph call. ``publish`` writes one outbox row per destination, inside the
caller's transaction when a SQLAlchemy ``Connection`` is given (the event and its notification
commit or roll back together), otherwise in a transaction of its own; on PostgreSQL the same
insert announces the rows to dispatchers in other processes (:mod:`.wakeup`). Delivery is the
:class:`~agent_platform.notifications.dispatcher.Dispatcher`'s job. Bad input (unknown
destination, payload not JSON or too large) raises before anything is written; those checks
and the row layout live in :mod:`._outbox_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.config import load_yaml_model, project_root
from agent_platform.errors import StorageError
from agent_platform.notifications._outbox_rows import (
    check_event_type,
    outbox_rows,
    payload_json,
    resolve_correlation_id,
    select_targets,
)
from agent_platform.notifications.destinations import (
    DEFAULT_CONFIG_FILE,
    ResolvedDestination,
    resolve_destinations,
)
from agent_platform.notifications.ids import new_notification_id, utc_now
from agent_platform.notifications.outbox import enqueue_transaction, insert_rows
from agent_platform.notifications.status import (
    DeliveryLogRow,
    NotificationStatus,
    delivery_log,
    notification_status,
)
from agent_platform.schemas.notifications import NotificationsConfig

__all__ = ["NotificationEvent", "NotificationPublisher", "load_notifications_config"]


def load_notifications_config(path: Path | None = None) -> NotificationsConfig:
    """Load ``configs/notifications.yaml`` (or ``path``); errors are :class:`ConfigError`."""
    return load_yaml_model(path or project_root() / DEFAULT_CONFIG_FILE, NotificationsConfig)


@dataclass(frozen=True)
class NotificationEvent:
    """One event for :meth:`NotificationPublisher.publish_batch`."""

    event_type: str
    payload: Mapping[str, Any]
    correlation_id: str | None = None
    destinations: Sequence[str] | None = None


class NotificationPublisher:
    """Enqueues notifications durably; implements :class:`agent_platform.events.EventSink`.

    Args:
        engine: the database holding the outbox (PostgreSQL or SQLite).
        config: the validated ``configs/notifications.yaml``.
        environ: where ``*_env`` secrets are read (default ``os.environ``); read once, here.
        config_file: the file name used in error messages.
        on_enqueue: called after the publisher's own transaction commits (e.g. an in-process
            dispatcher's ``wake``); not called when the caller owns the transaction.
    """

    def __init__(
        self,
        engine: Engine,
        config: NotificationsConfig,
        *,
        environ: Mapping[str, str] | None = None,
        config_file: str = DEFAULT_CONFIG_FILE,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._destinations: dict[str, ResolvedDestination] = resolve_destinations(
            config, environ, config_file=config_file
        )
        self._on_enqueue = on_enqueue

    @property
    def destinations(self) -> tuple[str, ...]:
        """Names of the enabled destinations."""
        return tuple(self._destinations)

    def publish(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        correlation_id: str | None = None,
        connection: Connection | None = None,
        destinations: Sequence[str] | None = None,
    ) -> str:
        """Enqueue one event for its destinations and return the notification id.

        The correlation id is ``correlation_id``, else the payload's ``correlation_id`` or
        ``trace_id``, else a new UUID4. With ``connection`` the rows are written in the caller's
        transaction (the caller commits); otherwise in one of the publisher's own.

        Raises:
            InvalidInputError: bad event type or correlation id.
            PayloadError: payload not a JSON object, not serialisable, or over the size limit.
            DestinationError: an unknown or disabled destination was named.
        """
        event = NotificationEvent(event_type, payload, correlation_id, destinations)
        return self.publish_batch([event], connection=connection)[0]

    def publish_batch(
        self, events: Iterable[NotificationEvent], *, connection: Connection | None = None
    ) -> list[str]:
        """Enqueue several events atomically: all are validated before any row is written."""
        now = utc_now()
        ids: list[str] = []
        rows: list[dict[str, Any]] = []
        for event in events:
            notification_id = new_notification_id()
            rows.extend(self._rows_for(event, notification_id, now))
            ids.append(notification_id)
        if connection is not None:
            insert_rows(connection, rows)
            return ids
        try:
            with enqueue_transaction(self._engine, len(rows)) as own:
                insert_rows(own, rows)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"could not commit {len(rows)} outbox row(s): {describe(exc)}"
            ) from exc
        if rows and self._on_enqueue is not None:
            self._on_enqueue()
        return ids

    def get_delivery_status(self, notification_id: str) -> NotificationStatus:
        """Every destination's state and every attempt of ``notification_id``."""
        return notification_status(self._engine, notification_id)

    def delivery_log(self, since: datetime | None = None) -> list[DeliveryLogRow]:
        """Rows ``timestamp, destination, correlation_id, status, latency_ms, attempt``."""
        return delivery_log(self._engine, since)

    def _rows_for(
        self, event: NotificationEvent, notification_id: str, now: datetime
    ) -> list[dict[str, Any]]:
        check_event_type(event.event_type)
        body = payload_json(event.payload, self._config.max_payload_bytes)
        correlation_id = resolve_correlation_id(event.correlation_id, event.payload)
        targets = select_targets(self._destinations, event.event_type, event.destinations)
        return outbox_rows(notification_id, event.event_type, correlation_id, body, targets, now)
