"""The append-only, hash-chained ledger: append with compare-and-set, replay, verify.

Entries are inserted, never updated; each carries its payload's SHA-256 and the hash linking it
to the previous entry (:mod:`.ledger.chain`). A lost compare-and-set race raises
:class:`LedgerConflictError` and writes nothing. With a :class:`LedgerAnchor`, signed head
checkpoints outside the database let :meth:`Ledger.verify` find deletions, truncations, head
rewinds and rewrites the database alone cannot reveal (:mod:`.ledger.anchoring`). Replay is
in strict ``seq`` order and at-least-once (up to one page again after a crash), so handlers
must be idempotent. The package docstring of :mod:`.ledger` maps the machinery.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection, Engine

from agent_platform.errors import ConfigError
from agent_platform.state.ledger import read
from agent_platform.state.ledger.anchor import LedgerAnchor
from agent_platform.state.ledger.anchoring import checkpoint_when_due, take_checkpoint
from agent_platform.state.ledger.append import LedgerAppender
from agent_platform.state.ledger.async_append import AsyncConnect, append_many_async
from agent_platform.state.ledger.checkpoints import Checkpoint
from agent_platform.state.ledger.entry import LedgerEntry, check_name
from agent_platform.state.ledger.read import Handler, ProgressCallback, ReplayReport
from agent_platform.state.ledger.retry import AppendRetry
from agent_platform.state.ledger.sql import ledger_statements_for
from agent_platform.state.ledger.verify import LedgerVerification, verify_ledger

__all__ = [
    "AppendRetry",
    "AsyncConnect",
    "Checkpoint",
    "Ledger",
    "LedgerAnchor",
    "LedgerEntry",
    "LedgerVerification",
    "ReplayReport",
    "append_event",
    "append_many",
    "checkpoint_ledger",
    "replay_events",
    "verify_ledger_integrity",
]


class Ledger:
    """One named ledger (several share the tables) in the migrated database behind
    ``engine``. Without ``anchor`` verification rests on the chain and the head recorded in the
    database alone; ``retry`` is how appends at the head wait out others (default 10 s)."""

    def __init__(
        self,
        engine: Engine,
        name: str = "default",
        *,
        max_payload_bytes: int = 1_000_000,
        anchor: LedgerAnchor | None = None,
        retry: AppendRetry | None = None,
    ) -> None:
        self._engine = engine
        self.name = check_name("ledger name", name)
        self._sql = ledger_statements_for(engine)
        self.anchor = anchor
        hook = self._committed if anchor is not None and anchor.every > 0 else None
        self._appender = LedgerAppender(
            engine, self.name, self._sql, max_payload_bytes, retry=retry, on_commit=hook
        )

    def _committed(self, old_seq: int, new_seq: int, new_hash: str) -> None:
        if self.anchor is not None:
            checkpoint_when_due(self._engine, self.name, self.anchor, (old_seq, new_seq, new_hash))

    def head(self) -> tuple[int, str]:
        """(head seq, head hash) as recorded in the database; (0, 64 zeros) when empty."""
        return self._appender.head()

    def append_event(
        self,
        event_type: str,
        payload: Any,
        *,
        expected_seq: int | None = None,
        connection: Connection | None = None,
    ) -> LedgerEntry:
        """Append one event; returns the stored entry (see :meth:`append_many`)."""
        events = [(event_type, payload)]
        return self.append_many(events, expected_seq=expected_seq, connection=connection)[0]

    def append_many(
        self,
        events: Iterable[tuple[str, Any]],
        *,
        expected_seq: int | None = None,
        connection: Connection | None = None,
    ) -> list[LedgerEntry]:
        """Append (event_type, payload) events in one transaction, all or nothing, at
        ``expected_seq`` (None: at the head), in the caller's ``connection`` when given (see
        :meth:`transaction`). LedgerConflictError: another writer got there first (at once with
        ``expected_seq`` or ``connection``, else after retries); nothing was written."""
        return self._appender.append_many(events, expected_seq, connection)

    async def append_many_async(
        self, events: Iterable[tuple[str, Any]], *, expected_seq: int, connect: AsyncConnect
    ) -> list[LedgerEntry]:
        """:meth:`append_many` on the event loop (:mod:`.ledger.async_append`); a checkpoint
        due meanwhile is taken synchronously, a few milliseconds."""
        return await append_many_async(self._appender, self._sql, connect, events, expected_seq)

    def transaction(self) -> AbstractContextManager[Connection]:
        """A transaction to append in (``connection=``) with rows of the caller's own (an
        outbox row); commits at the end, rolls back on error (failure: StorageError)."""
        return self._appender.transaction()

    def entries(self, start: int = 0, *, page_size: int = 1000) -> Iterator[LedgerEntry]:
        """Entries with ``seq > start`` in seq order, read page by page."""
        return read.iter_entries(self._engine, self._sql, self.name, start, page_size)

    def position(self, consumer: str) -> int:
        """The last seq ``consumer`` has applied (0 when it has applied nothing)."""
        return read.read_position(
            self._engine, self._sql, self.name, check_name("consumer", consumer)
        )

    def replay_events(
        self,
        consumer: str,
        handler: Handler,
        *,
        page_size: int = 500,
        on_progress: ProgressCallback | None = None,
    ) -> ReplayReport:
        """Apply every entry after ``consumer``'s position to ``handler`` (see
        :func:`.ledger.read.replay`); ``on_progress`` hears (applied so far, last seq) per page."""
        read.check_page_size(page_size)
        head_seq = self.head()[0]
        walk = read.Walk(self._engine, self._sql, self.name, consumer, page_size)
        return read.replay(walk, head_seq, handler, on_progress)

    def verify(self) -> LedgerVerification:
        """Verify the whole chain against the recorded head and, when anchored, against the
        signed checkpoints (see :func:`verify_ledger_integrity`)."""
        return verify_ledger_integrity(self._engine, self.name, anchor=self.anchor)

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head (see :func:`.ledger.anchoring.take_checkpoint`); what a run
        calls when it ends. ConfigError without an anchor."""
        if self.anchor is None:
            raise ConfigError("Ledger", "anchor", None, "a LedgerAnchor to sign checkpoints with")
        return take_checkpoint(self._engine, self.name, self.anchor)


def append_event(
    engine: Engine,
    event_type: str,
    payload: Any,
    *,
    ledger: str = "default",
    expected_seq: int | None = None,
) -> LedgerEntry:
    """Append one event to ``ledger`` (see :meth:`Ledger.append_event`)."""
    return Ledger(engine, ledger).append_event(event_type, payload, expected_seq=expected_seq)


def append_many(
    engine: Engine,
    events: Iterable[tuple[str, Any]],
    *,
    ledger: str = "default",
    expected_seq: int | None = None,
) -> list[LedgerEntry]:
    """Append several events in one transaction (see :meth:`Ledger.append_many`)."""
    return Ledger(engine, ledger).append_many(events, expected_seq=expected_seq)


def replay_events(
    engine: Engine, consumer: str, handler: Handler, *, ledger: str = "default"
) -> ReplayReport:
    """Replay ``ledger`` into ``handler`` for ``consumer`` (see :meth:`Ledger.replay_events`)."""
    return Ledger(engine, ledger).replay_events(consumer, handler)


def verify_ledger_integrity(
    engine: Engine, ledger: str = "default", *, anchor: LedgerAnchor | None = None
) -> LedgerVerification:
    """Verify ``ledger`` (edits, deletions, reorderings, truncation, forks; with ``anchor``
    also deletion, truncation, head rewinds and rewrites the database alone cannot reveal):
    a :class:`LedgerVerification` naming the first bad seq (``raise_for_failure()`` raises)."""
    name = check_name("ledger name", ledger)
    view = anchor.view(anchor.scope_for(engine), name) if anchor is not None else None
    return verify_ledger(engine, name, view)


def checkpoint_ledger(engine: Engine, ledger: str, anchor: LedgerAnchor) -> Checkpoint | None:
    """Sign the head of ``ledger`` (see :meth:`Ledger.checkpoint`)."""
    return Ledger(engine, ledger, anchor=anchor).checkpoint()
