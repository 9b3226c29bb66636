"""Notifications: a durable outbox and its delivery to webhooks, Slack and email.

Producers call :class:`NotificationPublisher` (an :class:`agent_platform.events.EventSink`);
a :class:`Dispatcher` delivers what the outbox holds. Test receivers live in
:mod:`agent_platform.notifications.testing`.
"""

from agent_platform.notifications.dispatcher import Dispatcher, DispatchStats
from agent_platform.notifications.publisher import (
    NotificationEvent,
    NotificationPublisher,
    load_notifications_config,
)
from agent_platform.notifications.status import (
    DELIVERY_LOG_COLUMNS,
    AttemptRecord,
    DeliveryLogRow,
    DestinationStatus,
    NotificationStatus,
    delivery_log,
    write_delivery_log_csv,
)

__all__ = [
    "DELIVERY_LOG_COLUMNS",
    "AttemptRecord",
    "DeliveryLogRow",
    "DestinationStatus",
    "DispatchStats",
    "Dispatcher",
    "NotificationEvent",
    "NotificationPublisher",
    "NotificationStatus",
    "delivery_log",
    "load_notifications_config",
    "write_delivery_log_csv",
]
