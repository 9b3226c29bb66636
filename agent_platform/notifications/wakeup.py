"""Waking a dispatcher the moment a notification commits, in its own process or any other.

In the publisher's process the publisher calls the dispatcher's ``wake`` (a :class:`Waker`).
A dispatcher in another process cannot be handed that; without a signal it finds new rows only
at its next poll (``dispatcher.poll_interval_s``). On PostgreSQL the insert of outbox rows
therefore also calls ``pg_notify`` on :data:`CHANNEL` (in its ``RETURNING`` clause, so at no
extra round trip; PostgreSQL delivers it only if, and when, the transaction commits, so a
rolled back event wakes no one), and each dispatcher ``LISTEN``s on the connection it claims
with (:mod:`._lease_connection`): its loop, when idle, waits on that socket and the waker's
pipe at once, so a signal reaches the thread that claims without a hand-over between threads.
The signal carries nothing: it only cuts an idle wait short, the claim itself still goes
through ``SKIP LOCKED`` leases, and a lost signal (say, while the connection is re-opened) costs
at most one poll interval. SQLite has no such signal; there other processes poll.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from typing import Any

import sqlalchemy as sa

__all__ = ["CHANNEL", "Waker", "announcement", "wait_readable"]

#: The PostgreSQL notification channel new outbox rows are announced on.
CHANNEL = "agent_platform_outbox"


def announcement() -> sa.FunctionElement[Any]:
    """``pg_notify`` on :data:`CHANNEL`, for an outbox insert's ``RETURNING`` (PostgreSQL): the
    signal is queued by the insert itself and sent once, when the transaction commits."""
    return sa.func.pg_notify(CHANNEL, "")


class Waker:
    """An event a ``select`` can wait on together with a socket (a flag plus a pipe).

    ``set`` after ``close`` does nothing (a closed descriptor's number may already belong to
    another file).
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def set(self) -> None:
        self._flag.set()
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError):  # a full pipe is awake already
                os.write(self._write, b"!")

    def is_set(self) -> bool:
        return self._flag.is_set()

    def clear(self) -> None:
        self._flag.clear()
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 4096):
                    pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read)
            os.close(self._write)


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    """The file descriptors among ``fds`` readable within ``timeout`` seconds."""
    readable, _, _ = select.select(fds, [], [], max(0.0, timeout))
    return list(readable)
