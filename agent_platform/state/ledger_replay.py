"""The append-only, hash-chained ledger: append with compare-and-set, replay, verify.

Each entry holds ``seq``, ``event_type``, the canonical JSON payload, its ``checksum``
(SHA-256), ``prev_hash`` (the previous entry's hash; 64 zeros before seq 1) and ``entry_hash``
(see :mod:`agent_platform.state.ledger.chain`). Entries are inserted, never updated. Appends use a
compare-and-set on the recorded head (:mod:`.ledger.append`); a lost race raises
:class:`LedgerConflictError` and writes nothing.

Anchoring: a ledger given a :class:`LedgerAnchor` signs its head now and then into files
outside the database (every ``anchor.every`` entries, and on :meth:`Ledger.checkpoint`), and
:meth:`Ledger.verify` compares the chain with those signed heads, which finds a whole ledger
deleted, truncated with its head moved back, or rewritten with every later hash recomputed:
see :mod:`.ledger.anchoring` for exactly what is found and from when.

Replay contract: :meth:`Ledger.replay_events` hands entries to ``handler`` in strict ``seq``
order and records the consumer's position in ``ledger_consumers`` after each page (and, before
re-raising a handler error, up to the last entry the handler completed). The handler's side
effects are not in that transaction, so delivery is at-least-once: after a crash between a
side effect and the position update, up to one page may be handed over again. Handlers must be
idempotent (keyed by ``seq``, or naturally). A missing ``seq`` raises :class:`LedgerGapError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection, Engine

from agent_platform.errors import AgentPlatformError, ConfigError, LedgerGapError
from agent_platform.state.ledger import read
from agent_platform.state.ledger.anchor import LedgerAnchor
from agent_platform.state.ledger.anchoring import Finding, take_checkpoint
from agent_platform.state.ledger.append import LedgerAppender
from agent_platform.state.ledger.async_append import AsyncConnect, append_many_async
from agent_platform.state.ledger.chain import GENESIS_HASH
from agent_platform.state.ledger.checkpoints import Checkpoint
from agent_platform.state.ledger.entry import LedgerEntry, check_name
from agent_platform.state.ledger.read import Handler, ProgressCallback, ReplayReport
from agent_platform.state.ledger.retry import AppendRetry, LedgerContentionError
from agent_platform.state.ledger.sql import MAX_ONE_STATEMENT, ledger_statements_for
from agent_platform.state.ledger.verify import LedgerVerification, verify_ledger

__all__ = [
    "GENESIS_HASH",
    "MAX_ONE_STATEMENT",
    "AppendRetry",
    "AsyncConnect",
    "Checkpoint",
    "Finding",
    "Ledger",
    "LedgerAnchor",
    "LedgerContentionError",
    "LedgerEntry",
    "LedgerVerification",
    "ReplayReport",
    "append_event",
    "append_many",
    "checkpoint_ledger",
    "replay_events",
    "verify_ledger_integrity",
]

_log = logging.getLogger(__name__)


class Ledger:
    """One named, hash-chained ledger in the database behind ``engine``.

    Args:
        engine: PostgreSQL or SQLite, migrated to head.
        name: the ledger's name; several ledgers share the tables.
        max_payload_bytes: the largest canonical JSON payload accepted per entry.
        anchor: where signed checkpoints of the head are kept (None: not anchored; verification
            then rests on the chain and the head recorded in the database alone).
        retry: how appends without ``expected_seq`` retry lost races (default: 10 s deadline).
    """

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
        """After an append of ours: sign the head when it crossed a multiple of ``every``.

        The entries are committed whatever happens here, so a failure is logged, not raised:
        verification reports what the checkpoint could not vouch for.
        """
        if self.anchor is None or not self.anchor.due(old_seq, new_seq):
            return
        try:
            take_checkpoint(self._engine, self.name, self.anchor, (new_seq, new_hash))
        except (AgentPlatformError, OSError) as exc:
            _log.warning("ledger %r: no checkpoint at seq %d: %s", self.name, new_seq, exc)

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
        """Append (event_type, payload) events in one transaction, all or nothing.

        Args:
            expected_seq: the seq the first entry must get (head + 1); None appends at the head.
            connection: a connection in the caller's transaction on this ledger's database
                (see :meth:`transaction`): the entries commit or roll back with it.

        Raises:
            LedgerConflictError: another writer got there first (with ``expected_seq`` or
                ``connection`` at once, else after repeated losses). Nothing was written.
            InvalidInputError / PayloadError: bad event type or payload; nothing was written.
        """
        return self._appender.append_many(events, expected_seq, connection)

    async def append_many_async(
        self, events: Iterable[tuple[str, Any]], *, expected_seq: int, connect: AsyncConnect
    ) -> list[LedgerEntry]:
        """:meth:`append_many` on the event loop over ``connect`` (see
        :mod:`.ledger.async_append`). When the append is due a checkpoint (once every
        ``anchor.every`` entries) that checkpoint is taken synchronously, a few milliseconds."""
        return await append_many_async(self._appender, self._sql, connect, events, expected_seq)

    def transaction(self) -> AbstractContextManager[Connection]:
        """A transaction to append in (``connection=``) with rows of the caller's own (an
        outbox row); commits at the end, rolls back on error (failure: StorageError)."""
        return self._appender.transaction()

    def entries(self, start: int = 0, *, page_size: int = 1000) -> Iterator[LedgerEntry]:
        """Entries with ``seq > start`` in seq order, read page by page."""
        read.check_page_size(page_size)
        after = start
        while True:
            page = read.read_page(self._engine, self._sql, self.name, after, page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].seq

    def position(self, consumer: str) -> int:
        """The last seq ``consumer`` has applied (0 when it has applied nothing)."""
        check_name("consumer", consumer)
        return read.read_position(self._engine, self._sql, self.name, consumer)

    def replay_events(
        self,
        consumer: str,
        handler: Handler,
        *,
        page_size: int = 500,
        on_progress: ProgressCallback | None = None,
    ) -> ReplayReport:
        """Apply every entry after ``consumer``'s position to ``handler``, in seq order.

        Args:
            on_progress: called after each page with (entries applied so far, last seq).

        Raises:
            LedgerGapError: a seq is missing (the position stays before the gap).
            LedgerIntegrityError: an entry's payload does not match its checksum or link.
        """
        read.check_page_size(page_size)
        start = self.position(consumer)
        # Head first: entries appended meanwhile are replayed or left, never a missing tail.
        head_seq = self.head()[0]
        state = read.ReplayState(position=start)
        walk = read.Walk(self._engine, self._sql, self.name, consumer, page_size)
        try:
            read.apply_pages(walk, state, handler, on_progress)
        finally:
            if state.position != state.saved:
                read.save_position(self._engine, self._sql, self.name, consumer, state.position)
        if head_seq > state.position:
            raise LedgerGapError(state.position + 1)
        return ReplayReport(self.name, consumer, start, state.position, state.applied)

    def verify(self) -> LedgerVerification:
        """Verify the whole chain against the recorded head and, when anchored, against the
        signed checkpoints (see :func:`verify_ledger_integrity`)."""
        return verify_ledger_integrity(self._engine, self.name, anchor=self.anchor)

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head into the anchor's files, after walking the chain to it from
        the newest signed checkpoint (what a run calls when it ends).

        Returns the newest checkpoint (the existing one when the head has not moved), or None
        when the ledger has no entries.

        Raises:
            ConfigError: no anchor, or its key is unusable.
            LedgerIntegrityError: the chain does not run intact to the head; nothing signed.
        """
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
