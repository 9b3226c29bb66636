"""Recording a group of finished attempts on PostgreSQL in one statement.

The portable way (an executemany per table and a statement per destination's circuit inside a
transaction) costs six or more round trips and an executed statement per row. Here the group
travels as column arrays that ``unnest`` turns back into rows, and the attempt log insert, the
outbox row updates and the circuit updates are data-modifying parts of one statement: one round
trip whatever the group's size, atomic because a single statement is its own transaction (the
caller runs it in autocommit). The rules are those of the portable path in :mod:`.outbox`: a
delivery always lands on a pending row, any other outcome only while this worker holds the
lease; a success resets the circuit's count, failures add to it and open the circuit at the
threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["record_in_one_statement"]

_ATTEMPT_COLUMNS = (
    ("outbox_id", "VARCHAR"),
    ("notification_id", "VARCHAR"),
    ("destination", "VARCHAR"),
    ("correlation_id", "VARCHAR"),
    ("attempt", "INTEGER"),
    ("status", "VARCHAR"),
    ("http_status", "INTEGER"),
    ("latency_ms", "DOUBLE PRECISION"),
    ("error", "TEXT"),
    ("timestamp", "TIMESTAMPTZ"),
)
_ROW_COLUMNS = (
    ("id", "VARCHAR"),
    ("status", "VARCHAR"),
    ("attempts", "INTEGER"),
    ("last_error", "TEXT"),
    ("next_attempt_at", "TIMESTAMPTZ"),
    ("delivered_at", "TIMESTAMPTZ"),
)
_CIRCUIT_COLUMNS = (
    ("destination", "VARCHAR"),
    ("reset", "BOOLEAN"),
    ("failures", "INTEGER"),
    ("finished", "TIMESTAMPTZ"),
    ("open_until", "TIMESTAMPTZ"),
)


def _unnest(prefix: str, columns: Sequence[tuple[str, str]]) -> str:
    arrays = ", ".join(f"CAST(:{prefix}_{name} AS {kind}[])" for name, kind in columns)
    return f"unnest({arrays})"


def _names(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f'"{name}"' for name, _ in columns)


_STATEMENT = sa.text(
    f"""
WITH attempt_log AS (
    INSERT INTO delivery_attempts ({_names(_ATTEMPT_COLUMNS)})
    SELECT * FROM {_unnest("a", _ATTEMPT_COLUMNS)}
), row_updates AS (
    UPDATE outbox AS o
    SET status = r.status,
        attempts = r.attempts,
        claimed_by = NULL,
        claimed_until = NULL,
        last_error = r.last_error,
        next_attempt_at = COALESCE(r.next_attempt_at, o.next_attempt_at),
        delivered_at = COALESCE(r.delivered_at, o.delivered_at)
    FROM {_unnest("r", _ROW_COLUMNS)} AS r({_names(_ROW_COLUMNS)})
    WHERE o.id = r.id
      AND o.status = 'pending'
      AND (r.status = 'delivered' OR o.claimed_by = :worker_id)
)
UPDATE destination_state AS s
SET consecutive_failures = CASE WHEN c.reset THEN 0 ELSE s.consecutive_failures END + c.failures,
    circuit_open_until = CASE
        WHEN (CASE WHEN c.reset THEN 0 ELSE s.consecutive_failures END + c.failures)
             >= :threshold THEN c.open_until
        WHEN c.reset THEN NULL
        ELSE s.circuit_open_until
    END,
    updated_at = c.finished
FROM {_unnest("c", _CIRCUIT_COLUMNS)} AS c({_names(_CIRCUIT_COLUMNS)})
WHERE s.destination = c.destination
"""
)


def _columns(
    prefix: str, columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]
) -> dict[str, list[Any]]:
    return {f"{prefix}_{name}": [row[name] for row in rows] for name, _ in columns}


def record_in_one_statement(
    conn: Connection,
    attempts: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    circuits: Sequence[dict[str, Any]],
    *,
    worker_id: str,
    threshold: int,
) -> None:
    """Insert ``attempts``, update ``rows`` and ``circuits`` (dicts keyed by column name)."""
    params: dict[str, Any] = {"worker_id": worker_id, "threshold": threshold}
    params |= _columns("a", _ATTEMPT_COLUMNS, attempts)
    params |= _columns("r", _ROW_COLUMNS, rows)
    params |= _columns("c", _CIRCUIT_COLUMNS, circuits)
    conn.execute(_STATEMENT, params)
