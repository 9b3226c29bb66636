"""How a consumer walks a ledger: pages in seq order, its recorded position, the entry checks.

Replay (:meth:`~agent_platform.state.ledger_replay.Ledger.replay_events`) reads pages after the consumer's
position, checks each entry (contiguous ``seq``, payload checksum, chain link and entry hash)
before its handler sees it, and records the new position. The SQL reads and writes here
translate SQLAlchemy errors into :class:`StorageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.canonical import sha256_hex
from agent_platform.errors import InvalidInputError, LedgerGapError, LedgerIntegrityError
from agent_platform.state.ledger.chain import EntryHasher
from agent_platform.state.ledger.entry import LedgerEntry
from agent_platform.state.ledger.sql import LedgerStatements

__all__ = [
    "Handler",
    "ProgressCallback",
    "ReplayReport",
    "ReplayState",
    "Walk",
    "apply_pages",
    "check_page_size",
    "check_replayable",
    "read_page",
    "read_position",
    "save_position",
]

Handler = Callable[[LedgerEntry], object]
ProgressCallback = Callable[[int, int], object]


@dataclass(frozen=True)
class ReplayReport:
    """What one replay did: the consumer's position before and after, and entries applied."""

    ledger: str
    consumer: str
    start_seq: int
    last_seq: int
    applied: int


def check_page_size(page_size: object) -> None:
    """InvalidInputError unless ``page_size`` is an int >= 1."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidInputError(f"page_size: got {page_size!r}; allowed: an int >= 1")


def read_page(
    engine: Engine, sql: LedgerStatements, ledger: str, after: int, size: int
) -> list[LedgerEntry]:
    """Up to ``size`` entries of ``ledger`` with ``seq > after``, in seq order."""
    try:
        with engine.connect() as conn:
            result = conn.execute(
                sql.select_page, {"b_ledger": ledger, "after": after, "page": size}
            )
            return [LedgerEntry(ledger, *row) for row in result]
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading ledger {ledger!r}", exc) from exc


def read_position(engine: Engine, sql: LedgerStatements, ledger: str, consumer: str) -> int:
    """The last seq ``consumer`` has applied (0 when it has applied nothing)."""
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sql.select_position, {"b_consumer": consumer, "b_ledger": ledger}
            ).first()
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading consumer {consumer!r} position", exc) from exc
    return 0 if row is None else int(row[0])


def save_position(
    engine: Engine, sql: LedgerStatements, ledger: str, consumer: str, seq: int
) -> None:
    """Record that ``consumer`` has applied ``ledger`` up to ``seq``."""
    params = {
        "consumer": consumer,
        "ledger": ledger,
        "last_seq": seq,
        "updated_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as conn:
            conn.execute(sql.save_position, params)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"saving consumer {consumer!r} position", exc) from exc


@dataclass
class ReplayState:
    """Where a replay is: position reached, position saved, entries applied, last hash."""

    position: int
    saved: int = -1
    applied: int = 0
    prev_hash: str | None = None

    def __post_init__(self) -> None:
        self.saved = self.position

    def advance(self, entry: LedgerEntry) -> None:
        """Record that ``entry`` was applied."""
        self.position = entry.seq
        self.prev_hash = entry.entry_hash
        self.applied += 1


def check_replayable(entry: LedgerEntry, state: ReplayState, hasher: EntryHasher) -> None:
    """Raise LedgerGapError / LedgerIntegrityError unless ``entry`` may be applied next."""
    if entry.seq != state.position + 1:
        raise LedgerGapError(state.position + 1)
    if sha256_hex(entry.payload.encode("utf-8")) != entry.checksum:
        raise LedgerIntegrityError(entry.seq, "payload does not match its checksum")
    linked = state.prev_hash is None or entry.prev_hash == state.prev_hash
    if not linked or hasher(entry.seq, entry.event_type, entry.checksum, entry.prev_hash) != (
        entry.entry_hash
    ):
        raise LedgerIntegrityError(entry.seq, "entry hash or chain link does not match")


@dataclass(frozen=True)
class Walk:
    """What one replay reads and where it records progress."""

    engine: Engine
    sql: LedgerStatements
    ledger: str
    consumer: str
    page_size: int


def apply_pages(
    walk: Walk, state: ReplayState, handler: Handler, on_progress: ProgressCallback | None
) -> None:
    """Check and hand to ``handler`` every entry after ``state.position``, page by page.

    The consumer's position is saved after each page, so a process that dies mid-replay
    resumes at its last full page (at most one page is handed over again).
    """
    hasher = EntryHasher()
    while True:
        page = read_page(walk.engine, walk.sql, walk.ledger, state.position, walk.page_size)
        for entry in page:
            check_replayable(entry, state, hasher)
            handler(entry)
            state.advance(entry)
        if page:
            save_position(walk.engine, walk.sql, walk.ledger, walk.consumer, state.position)
            state.saved = state.position
            if on_progress is not None:
                on_progress(state.applied, state.position)
        if len(page) < walk.page_size:
            return


def replay(
    walk: Walk, head_seq: int, handler: Handler, on_progress: ProgressCallback | None
) -> ReplayReport:
    """Apply every entry after the consumer's position to ``handler``, in seq order.

    ``head_seq`` is read by the caller *before* the walk: entries appended meanwhile are
    replayed or left for next time, never reported as a missing tail. The position is saved
    after each page and, before a handler error propagates, up to the last completed entry.

    Raises:
        LedgerGapError: a seq is missing (the position stays before the gap).
        LedgerIntegrityError: an entry's payload does not match its checksum or link.
    """
    start = read_position(walk.engine, walk.sql, walk.ledger, walk.consumer)
    state = ReplayState(position=start)
    try:
        apply_pages(walk, state, handler, on_progress)
    finally:
        if state.position != state.saved:
            save_position(walk.engine, walk.sql, walk.ledger, walk.consumer, state.position)
    if head_seq > state.position:
        raise LedgerGapError(state.position + 1)
    return ReplayReport(walk.ledger, walk.consumer, start, state.position, state.applied)


def iter_entries(
    engine: Engine, sql: LedgerStatements, ledger: str, start: int, page_size: int
) -> Iterator[LedgerEntry]:
    """Entries of ``ledger`` with ``seq > start`` in seq order, read page by page."""
    check_page_size(page_size)
    after = start
    while True:
        page = read_page(engine, sql, ledger, after, page_size)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].seq
