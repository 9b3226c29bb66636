"""The dispatcher's own connection for claiming rows (PostgreSQL).

A claim is on the path from publish to delivery, so its round trips count: taking a pooled
connection costs a liveness ping first (the engine's ``pool_pre_ping``), and an autocommit
``UPDATE`` waits for its commit record to reach the disk. This connection is held by the
dispatcher for its lifetime instead (detached from the pool, so its session setting never
reaches another user of the engine) and commits claims asynchronously
(``synchronous_commit = off``). That is safe for a lease and only for a lease: a claim lost in a
server crash leaves the row claimable again, which at-least-once delivery allows (the receiver
sees the same ``webhook-id``); attempt records and the outbox rows themselves keep their
durable commits on pooled connections. A connection found broken is replaced and the claim
tried once more on the new one. SQLite has nothing to gain: there the engine is used as is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.db import is_postgres
from agent_platform.errors import StorageError

__all__ = ["LeaseConnection"]

T = TypeVar("T")


class LeaseConnection:
    """Runs claims on one held, asynchronously committing connection (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)
        self._conn: Connection | None = None

    def run(self, claim: Callable[[Engine | Connection], T]) -> T:
        """``claim(bind)`` on the held connection, again on a fresh one if that one broke."""
        if not self._postgres:
            return claim(self._engine)
        held = self._held()
        try:
            return claim(held)
        except StorageError:
            if not (held.invalidated or held.closed):
                raise
        return claim(self._open())

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _held(self) -> Connection:
        conn = self._conn
        if conn is None or conn.invalidated or conn.closed:
            conn = self._open()
        return conn

    def _open(self) -> Connection:
        self.close()
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.detach()
            conn.exec_driver_sql("SET synchronous_commit TO off")
        except SQLAlchemyError as exc:
            raise StorageError(f"could not open the claiming connection: {describe(exc)}") from exc
        self._conn = conn
        return conn
