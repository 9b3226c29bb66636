"""Waking dispatchers in other processes the moment a notification commits (PostgreSQL).

A dispatcher in another process cannot be handed the publisher's in-process ``wake``; without a
signal it finds new rows only at its next poll (``dispatcher.poll_interval_s``). On PostgreSQL
the insert of outbox rows therefore also calls ``pg_notify`` on :data:`CHANNEL` (in its
``RETURNING`` clause, so at no extra round trip; PostgreSQL delivers it only if, and when, the
transaction commits, so a rolled back event wakes no one), and each dispatcher keeps one
connection ``LISTEN``-ing on it. The
signal carries nothing: it only cuts an idle wait short, the claim itself still goes through
``SKIP LOCKED`` leases, and a lost signal (say, while the listener reconnects) costs at most one
poll interval. SQLite has no such signal; there dispatchers poll.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import is_postgres

__all__ = ["CHANNEL", "OutboxListener", "announcement"]

logger = logging.getLogger(__name__)

#: The PostgreSQL notification channel new outbox rows are announced on.
CHANNEL = "agent_platform_outbox"
_RECONNECT_S = 1.0


def announcement() -> sa.FunctionElement[Any]:
    """``pg_notify`` on :data:`CHANNEL`, for an outbox insert's ``RETURNING`` (PostgreSQL): the
    signal is queued by the insert itself and sent once, when the transaction commits."""
    return sa.func.pg_notify(CHANNEL, "")


class OutboxListener:
    """A thread that ``LISTEN``s on :data:`CHANNEL` and calls ``on_signal`` for each signal.

    Does nothing on SQLite. Its connection is its own (detached from the engine's pool), so it
    never holds a pooled connection hostage; if the server goes away it reconnects after
    :data:`_RECONNECT_S`, and ``on_signal`` is called once on every (re)connect in case a
    signal was missed meanwhile.
    """

    def __init__(self, engine: Engine, on_signal: Callable[[], None]) -> None:
        self._engine = engine
        self._on_signal = on_signal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pipe: tuple[int, int] | None = None  # written to on stop: ends the select at once

    def __enter__(self) -> OutboxListener:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None or not is_postgres(self._engine):
            return
        self._stop.clear()
        self._pipe = os.pipe()
        self._thread = threading.Thread(target=self._run, name="notify-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            os.write(pipe[1], b"x")
        if thread is not None:
            thread.join(timeout=5)
        if pipe is not None:
            os.close(pipe[0])
            os.close(pipe[1])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the database went away: poll until it is back
                logger.warning("outbox listener lost its connection (%s); reconnecting", exc)
                self._stop.wait(_RECONNECT_S)

    def _listen(self) -> None:
        pipe = self._pipe
        if pipe is None:
            return
        raw = self._engine.raw_connection()
        driver: Any = raw.driver_connection
        raw.detach()
        try:
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
            self._on_signal()
            while not self._stop.is_set():
                readable, _, _ = select.select([driver.fileno(), pipe[0]], [], [])
                if driver.fileno() in readable and self._drain(driver):
                    self._on_signal()
        finally:
            driver.close()

    @staticmethod
    def _drain(driver: Any) -> bool:
        """Consume every pending notification; True if there was at least one."""
        seen = False
        for _ in driver.notifies(timeout=0.0):
            seen = True
        return seen
