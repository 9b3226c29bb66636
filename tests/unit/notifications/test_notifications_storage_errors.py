"""Database failures become one-line StorageErrors without SQL or its parameters.

A payload can hold personal data: SQLAlchemy's own message repeats the statement and every
parameter, so it must never reach a StorageError's text (which the CLI prints and logs keep).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.errors import StorageError
from agent_platform.notifications import outbox as ob
from agent_platform.notifications.publisher import NotificationPublisher
from agent_platform.notifications.status import delivery_log, notification_status
from agent_platform.notifications.tables import outbox
from agent_platform.schemas.notifications import NotificationsConfig

PERSONAL = "jane.doe@example.org"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONFIG = NotificationsConfig.model_validate(
    {
        "destinations": [
            {
                "name": "hook",
                "type": "webhook",
                "url": "https://hooks.example.org/in",
                "secret_env": "S",
            }
        ]
    }
)
ENV = {"S": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


def assert_clean(exc: StorageError) -> None:
    text = str(exc)
    assert "\n" not in text
    assert "[SQL" not in text and "parameters" not in text and "sqlalche.me" not in text
    assert PERSONAL not in text


@pytest.fixture
def unmigrated(tmp_path: Path) -> Iterator[Engine]:
    """A database without the notification tables: every statement fails."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


def write(outbox_id: str) -> ob.AttemptWrite:
    return ob.AttemptWrite(
        outbox_id=outbox_id,
        notification_id="ntf_x",
        destination="hook",
        correlation_id=PERSONAL,
        attempt=1,
        status="failed",
        http_status=500,
        latency_ms=1.0,
        error=f"HTTP 500 for {PERSONAL}",
        started_at=NOW,
        row_status="failed",
        next_attempt_at=None,
        circuit_failure=True,
    )


CALLS: dict[str, Callable[[Engine], Any]] = {
    "claim_due": lambda e: ob.claim_due(e, "w", ["hook"], now=NOW, lease_s=5, limit=10),
    "extend_lease": lambda e: ob.extend_lease(e, "w", ["obx_1"], NOW),
    "record_attempts": lambda e: ob.record_attempts(
        e, [write("obx_1")], worker_id="w", threshold=3, open_s=1
    ),
    "ensure_destination_states": lambda e: ob.ensure_destination_states(e, ["hook"], NOW),
    "load_destination_states": ob.load_destination_states,
    "disable_destination": lambda e: ob.disable_destination(e, "hook", PERSONAL, NOW),
    "mark_disabled_rows": lambda e: ob.mark_disabled_rows(e, ["hook"], PERSONAL),
    "count_pending": lambda e: ob.count_pending(e, ["hook"]),
    "enable_destination": lambda e: ob.enable_destination(e, "hook", NOW),
    "notification_status": lambda e: notification_status(e, "ntf_x"),
    "delivery_log": delivery_log,
    "publish": lambda e: NotificationPublisher(e, CONFIG, environ=ENV).publish(
        "user.signed_up", {"email": PERSONAL}
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_failing_statement_is_one_clean_line(unmigrated: Engine, name: str) -> None:
    with pytest.raises(StorageError, match="no such table") as info:
        CALLS[name](unmigrated)
    assert_clean(info.value)


def test_a_rejected_insert_does_not_echo_the_payload(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        NotificationPublisher(engine, CONFIG, environ=ENV).publish("user.signed_up", {"n": 1})
        with engine.connect() as conn:
            row = dict(conn.execute(sa.select(outbox)).mappings().one())
        row["payload"] = f'{{"email": "{PERSONAL}"}}'
        with pytest.raises(StorageError, match="IntegrityError") as info, engine.begin() as conn:
            ob.insert_rows(conn, [row])
        assert_clean(info.value)
    finally:
        engine.dispose()


def test_a_database_that_cannot_be_opened_is_one_clean_line(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    (tmp_path / "gone").rmdir()  # the engine made it; without it no connection opens
    try:
        publisher = NotificationPublisher(engine, CONFIG, environ=ENV)
        with pytest.raises(StorageError, match="could not commit") as info:
            publisher.publish("user.signed_up", {"email": PERSONAL})
        assert_clean(info.value)
    finally:
        engine.dispose()
