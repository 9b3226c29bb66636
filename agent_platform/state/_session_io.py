"""The state repository's SQL I/O: each function is one transaction or one read.

Statements come from :mod:`agent_platform.state._sql` (built once per dialect); SQLAlchemy
errors are translated here into :class:`StorageError` naming what failed. A write commits the
session rows, their hashes in ``state_hash_index`` and ``state_audit`` rows together, plus
whatever the caller adds in the same transaction (``also``: owed cache invalidations).

On PostgreSQL a single save is one statement (the three writes as data-modifying CTEs) run in
autocommit: one statement is one transaction there, all or nothing, so the BEGIN and COMMIT
round trips are saved without loosening anything; it has committed when it returns. It runs on
a connection of the engine's pool (checked out, pinged and returned as usual) through psycopg
directly (:class:`~agent_platform.state._sql.DriverStatement`); a connection that broke is
invalidated in the pool, as SQLAlchemy itself would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform._dberror import storage_error
from agent_platform.state._sql import DriverStatement, StateStatements

__all__ = ["Row", "delete_row", "read_rows", "row_batches", "write_rows"]

Row = tuple[str, str, str]
"""(session_id, canonical JSON payload, SHA-256)."""

Also = Callable[[Connection], object]
"""More writes for the same transaction (run after the repository's own)."""

_VERIFY_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _save_one(engine: Engine, statement: DriverStatement, row: Row, now: datetime) -> None:
    """One session in one autocommitted statement (PostgreSQL; see the module docstring)."""
    sid, payload, digest = row
    params = {**statement.fixed, "sid": sid, "p": payload, "h": digest, "now": now}
    try:
        pooled = engine.raw_connection()
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"saving session {sid!r}", exc) from exc
    try:
        driver = cast(psycopg.Connection[Any], pooled.driver_connection)  # the psycopg engine
        driver.autocommit = True
        try:
            driver.execute(statement.text, params)
        finally:
            if not driver.closed:
                driver.autocommit = False
    except psycopg.Error as exc:
        if driver.broken:
            pooled.invalidate(exc)
        raise storage_error(f"saving session {sid!r}", exc) from exc
    finally:
        pooled.close()


def write_rows(
    engine: Engine, sql: StateStatements, rows: Sequence[Row], also: Also | None = None
) -> None:
    """Commit sessions + hash index + audit for ``rows`` (and ``also``, in one transaction)."""
    now = _now()
    if len(rows) == 1 and sql.save_one_driver is not None and also is None:
        _save_one(engine, sql.save_one_driver, rows[0], now)
        return
    sessions = [{"id": s, "payload": p, "payload_hash": h, "updated_at": now} for s, p, h in rows]
    index = [{"hash": h, "session_id": s, "created_at": now} for s, _, h in rows]
    audit = [
        {"session_id": s, "action": "save", "payload_hash": h, "timestamp": now} for s, _, h in rows
    ]
    try:
        with engine.begin() as conn:
            conn.execute(sql.upsert_session, sessions)
            conn.execute(sql.index_hash, index)
            conn.execute(sql.audit, audit)
            if also is not None:
                also(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"saving {len(rows)} session(s)", exc) from exc


def read_rows(
    engine: Engine, sql: StateStatements, session_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """session id -> (payload, hash) for those of ``session_ids`` that exist."""
    try:
        with engine.connect() as conn:
            if len(session_ids) == 1:
                row = conn.execute(sql.select_one, {"sid": session_ids[0]}).first()
                return {} if row is None else {session_ids[0]: (row[0], row[1])}
            result = conn.execute(sql.select_many, {"ids": list(session_ids)})
            return {r[0]: (r[1], r[2]) for r in result}
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading {len(session_ids)} session(s)", exc) from exc


def delete_row(
    engine: Engine, sql: StateStatements, session_id: str, also: Also | None = None
) -> bool:
    """Delete ``session_id`` and audit the deletion (and ``also``) in one transaction; True
    if it existed."""
    try:
        with engine.begin() as conn:
            deleted = conn.execute(sql.delete_one, {"sid": session_id}).rowcount
            conn.execute(
                sql.audit,
                {
                    "session_id": session_id,
                    "action": "delete",
                    "payload_hash": None,
                    "timestamp": _now(),
                },
            )
            if also is not None:
                also(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"deleting session {session_id!r}", exc) from exc
    return bool(deleted)


def row_batches(
    engine: Engine, sql: StateStatements, session_id: str | None
) -> Iterator[list[Row]]:
    """The rows of ``session_id`` (one batch), or of every session streamed in batches."""
    try:
        with engine.connect() as conn:
            if session_id is not None:
                rows = conn.execute(sql.select_many, {"ids": [session_id]})
                yield [(r[0], r[1], r[2]) for r in rows]
                return
            yield from _stream_all(conn, sql)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error("reading sessions for verification", exc) from exc


def _stream_all(conn: Connection, sql: StateStatements) -> Iterator[list[Row]]:
    result = conn.execution_options(yield_per=_VERIFY_BATCH).execute(sql.select_all)
    for partition in result.partitions():
        yield [(r[0], r[1], r[2]) for r in partition]
