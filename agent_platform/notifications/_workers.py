"""The dispatcher's delivery threads: rows go in through one queue, results come back through
another.

A ``ThreadPoolExecutor`` with ``concurrent.futures.wait`` was the first design; profiling showed
the dispatcher's own thread spending a fifth of its time creating futures and re-arming a waiter
on every one still in flight each time it waited (with two hundred in flight, hundreds of lock
operations per completion). Here a result is one ``SimpleQueue.put``, and waiting for the next
group is a ``get`` with a timeout. Every row taken is answered: an attempt that raises comes back
as a retry, so its row is recorded, never lost.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy.engine import RowMapping

from agent_platform.notifications.ids import utc_now
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind

__all__ = ["AttemptPool", "Finished"]

#: What an attempt hands back: the outcome, when it started, its latency (ms).
Result = tuple[AttemptOutcome, datetime, float]
#: A finished attempt: its row, then the result.
Finished = tuple[RowMapping, AttemptOutcome, datetime, float]

#: How long to gather further results into one recording group: long enough under load that
#: a group's fixed cost (a round trip, a statement) is shared by dozens of attempts; a group
#: ends at once when nothing else is in flight, so a lone delivery is recorded without delay.
_GROUP_WINDOW_S = 0.02
_STOP = object()


class AttemptPool:
    """``workers`` threads running ``attempt(row)``; tracks the rows in flight.

    ``renew_at`` (monotonic) is when the leases of the rows in flight want a heartbeat: half a
    lease after the first of them was handed in.
    """

    def __init__(self, attempt: Callable[[RowMapping], Result], workers: int, lease_s: float):
        self._attempt = attempt
        self._workers = workers
        self._lease_s = lease_s
        self._todo: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._in_flight: dict[str, RowMapping] = {}
        self._threads: list[threading.Thread] = []
        self.renew_at = 0.0

    def __len__(self) -> int:
        return len(self._in_flight)

    def submit(self, rows: list[RowMapping]) -> None:
        if not rows:
            return
        if not self._threads:
            self._start()
        if not self._in_flight:
            self.renew_at = time.monotonic() + self._lease_s / 2
        for row in rows:
            self._in_flight[row["id"]] = row
            self._todo.put(row)

    def ids(self) -> list[str]:
        """The outbox ids still in flight."""
        return list(self._in_flight)

    def finished(self, timeout: float | None) -> list[Finished]:
        """Attempts that finish within ``timeout`` (None: until one does), with those that
        complete in the next few ms, so that one transaction records a group."""
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        group = [first]
        self._in_flight.pop(first[0]["id"], None)
        window_ends = time.monotonic() + _GROUP_WINDOW_S
        while self._in_flight:
            remaining = window_ends - time.monotonic()
            try:
                item = (
                    self._done.get(timeout=remaining) if remaining > 0 else self._done.get_nowait()
                )
            except queue.Empty:
                break
            group.append(item)
            self._in_flight.pop(item[0]["id"], None)
        return group

    def close(self) -> None:
        """Stop the threads once the rows already handed in are done."""
        for _ in self._threads:
            self._todo.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _start(self) -> None:
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"notify-dispatch_{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            row = self._todo.get()
            if row is _STOP:
                return
            try:
                outcome, started, latency_ms = self._attempt(cast(RowMapping, row))
            except Exception as exc:  # a bug must not lose the row: it is recorded, retried
                error = f"dispatcher raised {type(exc).__name__}: {exc}"
                outcome = AttemptOutcome(OutcomeKind.RETRY, error=error)
                started, latency_ms = utc_now(), 0.0
            self._done.put((cast(RowMapping, row), outcome, started, latency_ms))
