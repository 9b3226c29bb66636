"""The dispatcher's own connection: it claims rows and listens for new ones (PostgreSQL).

A claim is on the path from publish to delivery, so its round trips count: taking a pooled
connection costs a liveness ping first (the engine's ``pool_pre_ping``), and an autocommit
``UPDATE`` waits for its commit record to reach the disk. This connection is held by the
dispatcher for its lifetime instead (detached from the pool, so its session setting never
reaches another user of the engine) and commits claims asynchronously
(``synchronous_commit = off``). That is safe for a lease and only for a lease: a claim lost in a
server crash leaves the row claimable again, which at-least-once delivery allows (the receiver
sees the same ``webhook-id``); attempt records and the outbox rows themselves keep their
durable commits on pooled connections.

The same connection ``LISTEN``s on :data:`.wakeup.CHANNEL`, and :meth:`LeaseConnection.wait` is
the dispatcher's idle wait: on its socket and the in-process waker at once. A connection found
broken is replaced (a claim is then tried once more on the new one), and every new connection
counts as a signal, in case one was missed meanwhile. SQLite has none of this: the engine is
used as it is, and waiting is waiting for the waker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.db import is_postgres
from agent_platform.errors import StorageError
from agent_platform.notifications.wakeup import CHANNEL, Waker, wait_readable

__all__ = ["LeaseConnection"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_RETRY_OPEN_S = 1.0


class LeaseConnection:
    """Runs claims on one held, asynchronously committing, listening connection (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = is_postgres(engine)
        self._conn: Connection | None = None
        self._driver: Any = None  # the psycopg connection under ``_conn``
        self._signal = threading.Event()

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

    def signalled(self) -> bool:
        """A ``NOTIFY`` (or a new connection) arrived since :meth:`clear`; looks without
        waiting."""
        if self._postgres and self._conn is not None and not self._signal.is_set():
            self.wait(0.0, None)
        return self._signal.is_set()

    def clear(self) -> None:
        self._signal.clear()

    def wait(self, timeout: float, waker: Waker | None) -> None:
        """Until a ``NOTIFY`` arrives, ``waker`` is set, or ``timeout`` seconds pass."""
        fds = [] if waker is None else [waker.fileno()]
        driver = self._listening()
        if driver is None:  # SQLite, or the server is away (retry the connection soon)
            wait_readable(fds, timeout if not self._postgres else min(timeout, _RETRY_OPEN_S))
            return
        if driver.fileno() in wait_readable([driver.fileno(), *fds], timeout):
            self._drain(driver)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _listening(self) -> Any | None:
        """The driver connection to wait on (None on SQLite, or while the server is away)."""
        if not self._postgres:
            return None
        try:
            self._held()
        except StorageError as exc:
            logger.warning("cannot listen for new notifications (%s); polling meanwhile", exc)
            return None
        return self._driver

    def _drain(self, driver: Any) -> None:
        """Read what arrived on the socket; a notification in it sets the signal.

        Read through the libpq wrapper (``pgconn``): notifications that arrive during a claim
        reach the handler installed at :meth:`_open` instead, and psycopg warns against mixing
        its ``notifies()`` generator with handlers.
        """
        try:
            pgconn = driver.pgconn
            pgconn.consume_input()
            while pgconn.notifies() is not None:
                self._signal.set()
        except Exception as exc:  # the connection broke: re-open it at the next use
            logger.warning("listening connection lost (%s); re-opening it", exc)
            self.close()
            self._signal.set()

    def _held(self) -> Connection:
        conn = self._conn
        if conn is None or conn.invalidated or conn.closed:
            conn = self._open()
        return conn

    def _open(self) -> Connection:
        self.close()
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            driver: Any = conn.connection.driver_connection  # (detaching forgets it)
            conn.detach()
            conn.exec_driver_sql("SET synchronous_commit TO off")
            conn.exec_driver_sql(f"LISTEN {CHANNEL}")
        except SQLAlchemyError as exc:
            raise StorageError(f"could not open the claiming connection: {describe(exc)}") from exc
        driver.add_notify_handler(lambda _notify: self._signal.set())
        self._conn, self._driver = conn, driver
        self._signal.set()  # anything announced while there was no listener
        return conn
