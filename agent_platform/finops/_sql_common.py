"""SQL pieces every budget store shares: spend rows, alert rows, window sums, transactions.

The counters themselves are backend-specific (row locks, ``BEGIN IMMEDIATE``, Lua); the durable
records are not: every backend writes ``spend_records`` and ``budget_alerts`` through here, so a
restart of any backend loses no spend and an alert fires once per (window, level) everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.errors import StorageError
from agent_platform.finops._sql_statements import DAY_SPEND, INSERT_SPEND, MONTH_SPEND, TOKEN_SPEND
from agent_platform.finops._store import AlertRow, Hold, SpendRow
from agent_platform.finops.pricing import MICRO
from agent_platform.finops.tables import budget_alerts
from agent_platform.finops.windows import WindowCalendar

__all__ = [
    "as_utc",
    "decode_holds",
    "encode_holds",
    "insert_alert",
    "insert_ignore",
    "insert_spend",
    "money",
    "reading",
    "transaction",
    "window_committed",
]


def money(value: Any) -> Decimal:
    """A stored numeric as a Decimal at micro precision (SQLite hands back floats)."""
    if value is None:
        return Decimal(0)
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(MICRO)


def encode_holds(holds: Sequence[Hold]) -> str:
    return json.dumps([[h.window_key, str(h.amount)] for h in holds], separators=(",", ":"))


def decode_holds(text: str) -> list[tuple[str, Decimal]]:
    return [(key, Decimal(amount)) for key, amount in json.loads(text)]


@contextmanager
def transaction(engine: Engine, *, immediate: bool = False) -> Iterator[Connection]:
    """A transaction; ``immediate`` takes SQLite's write lock up front (``BEGIN IMMEDIATE``).

    Raises:
        StorageError: the database failed; the transaction was rolled back.
    """
    try:
        with engine.connect() as conn:
            if immediate:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
    except SQLAlchemyError as exc:
        raise StorageError(f"budget store: {describe(exc)}") from exc


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only (nothing to commit).

    Raises:
        StorageError: the database failed (a one-line description of the driver's error).
    """
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StorageError(f"budget store: {describe(exc)}") from exc


def insert_ignore(conn: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def insert_spend(conn: Connection, spend: SpendRow) -> None:
    """Persist ``spend`` as one ``spend_records`` row (a precompiled INSERT)."""
    conn.execute(INSERT_SPEND, spend.as_values())


def insert_alert(conn: Connection, alert: AlertRow, sink: Any) -> bool:
    """Insert ``alert`` unless its (window, level) exists; publish it when inserted."""
    result = conn.execute(
        insert_ignore(conn, budget_alerts)
        .values(
            window_key=alert.window_key,
            level=alert.level,
            correlation_id=alert.correlation_id,
            message=alert.message,
            spent_eur=alert.spent_eur,
            cap_eur=alert.cap_eur,
            created_at=alert.created_at,
        )
        .returning(budget_alerts.c.id)
    )
    if result.first() is None:  # the (window, level) alert already exists
        return False
    if sink is not None:
        payload = {
            "window_key": alert.window_key,
            "level": alert.level,
            "message": alert.message,
            "spent_eur": str(alert.spent_eur),
            "cap_eur": str(alert.cap_eur),
            "created_at": alert.created_at.isoformat(),
            **alert.details,
        }
        sink.publish("budget.alert", payload, correlation_id=alert.correlation_id, connection=conn)
    return True


def window_committed(conn: Connection, key: str, calendar: WindowCalendar) -> Decimal:
    """Settled spend (EUR, or tokens for a token window) of ``key`` from ``spend_records``.

    A token window counts the spend recorded inside it whose day key is the window's own local
    day (the day a settled call is charged to), which also lets the ``day_key`` index serve it.
    """
    kind = key.split(":", 1)[0]
    if kind == "day":
        return money(conn.execute(DAY_SPEND, {"b_key": key}).scalar())
    if kind == "month":
        return money(conn.execute(MONTH_SPEND, {"b_key": key}).scalar())
    span = calendar.span(key)
    params = {
        "b_day": calendar.day_key(span.start),
        "b_provider": key.split(":")[1],
        "b_start": span.start,
        "b_end": span.end,
    }
    return money(conn.execute(TOKEN_SPEND, params).scalar())


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
