"""The append-only, hash-chained ledger: append with compare-and-set, replay, verify.

Each entry holds ``seq``, ``event_type``, the canonical JSON payload, its ``checksum``
(SHA-256), ``prev_hash`` (the previous entry's hash; 64 zeros before seq 1) and ``entry_hash``
(see :mod:`agent_platform.state._chain`). Entries are inserted, never updated.

Concurrency: an append names the sequence number it expects to write (``expected_seq``, the
head + 1). The primary key (ledger, seq) and a compare-and-set on the recorded head in
``ledger_heads`` (same transaction) make a lost race fail as :class:`LedgerConflictError`;
nothing is written, and the caller re-reads the head and retries. Without ``expected_seq`` the
ledger retries on its own a few times, since the caller did not ask for compare-and-set.

Replay contract: :meth:`Ledger.replay_events` hands entries to ``handler`` in strict ``seq``
order and records the consumer's position in ``ledger_consumers`` after each page (and before
re-raising a handler error, up to the last entry the handler completed). The handler's side
effects are its own and are not in that transaction, so delivery is at-least-once: after a
crash between a side effect and the position update, up to one page may be handed over again.
Handlers must therefore be idempotent (keyed by ``seq`` or, like a state save, naturally
idempotent). A missing ``seq`` stops the replay with :class:`LedgerGapError`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform.canonical import canonical_json, sha256_hex
from agent_platform.errors import (
    InvalidInputError,
    LedgerConflictError,
    LedgerGapError,
    LedgerIntegrityError,
    PayloadError,
    StorageError,
)
from agent_platform.state._chain import GENESIS_HASH, EntryHasher, chain_rows
from agent_platform.state._ledger_sql import LedgerStatements, ledger_statements_for
from agent_platform.state._ledger_verify import LedgerVerification, verify_ledger

__all__ = [
    "GENESIS_HASH",
    "Ledger",
    "LedgerEntry",
    "LedgerVerification",
    "ReplayReport",
    "append_event",
    "append_many",
    "replay_events",
    "verify_ledger_integrity",
]

_NAME_MAX = 128
_AUTO_RETRIES = 8


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry as stored; ``payload`` is its canonical JSON text."""

    ledger: str
    seq: int
    event_type: str
    payload: str
    checksum: str
    prev_hash: str
    entry_hash: str
    created_at: datetime | None

    def data(self) -> Any:
        """The payload decoded from JSON."""
        return json.loads(self.payload)


@dataclass(frozen=True)
class ReplayReport:
    """What one replay did: the consumer's position before and after, and entries applied."""

    ledger: str
    consumer: str
    start_seq: int
    last_seq: int
    applied: int


Handler = Callable[[LedgerEntry], object]
ProgressCallback = Callable[[int, int], object]


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _NAME_MAX:
        raise InvalidInputError(
            f"{what}: got {value!r}; allowed: a str of 1..{_NAME_MAX} characters"
        )
    return value


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """One named, hash-chained ledger in the database behind ``engine``.

    Args:
        engine: PostgreSQL or SQLite, migrated to head.
        name: the ledger's name; several ledgers share the tables.
        max_payload_bytes: the largest canonical JSON payload accepted per entry.
    """

    def __init__(
        self, engine: Engine, name: str = "default", *, max_payload_bytes: int = 1_000_000
    ) -> None:
        self._engine = engine
        self.name = _check_name("ledger name", name)
        self._max_payload = max_payload_bytes
        self._sql: LedgerStatements = ledger_statements_for(engine)
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None

    # -- head -------------------------------------------------------------------------------

    def _load_head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(self._sql.select_head, {"b_ledger": self.name}).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def head(self) -> tuple[int, str]:
        """(head seq, head hash) as recorded in the database; (0, 64 zeros) when empty."""
        try:
            with self._engine.connect() as conn:
                return self._load_head(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"reading the head of ledger {self.name!r} failed: {exc}") from exc

    # -- append -----------------------------------------------------------------------------

    def _prepare(self, event_type: object, payload: Any) -> tuple[str, str, str]:
        kind = _check_name("event_type", event_type)
        body = canonical_json(payload)
        if len(body) > self._max_payload:
            raise PayloadError(
                f"ledger event {kind!r}: payload is {len(body)} bytes of canonical JSON; "
                f"allowed: at most {self._max_payload}"
            )
        return kind, body.decode("utf-8"), sha256_hex(body)

    def append_event(
        self, event_type: str, payload: Any, *, expected_seq: int | None = None
    ) -> LedgerEntry:
        """Append one event; returns the stored entry.

        Args:
            expected_seq: the seq this entry must get (head + 1); None appends at the head.

        Raises:
            LedgerConflictError: another writer got there first (only with ``expected_seq``,
                or after repeated losses without it). Nothing was written.
            InvalidInputError / PayloadError: bad event type or payload; nothing was written.
        """
        return self.append_many([(event_type, payload)], expected_seq=expected_seq)[0]

    def append_many(
        self, events: Iterable[tuple[str, Any]], *, expected_seq: int | None = None
    ) -> list[LedgerEntry]:
        """Append several (event_type, payload) events in one transaction, all or nothing."""
        prepared = [self._prepare(kind, payload) for kind, payload in events]
        if not prepared:
            return []
        if expected_seq is not None and (isinstance(expected_seq, bool) or expected_seq < 1):
            raise InvalidInputError(f"expected_seq: got {expected_seq!r}; allowed: an int >= 1")
        with self._lock:
            attempts = 0
            while True:
                try:
                    return self._try_append(prepared, expected_seq)
                except LedgerConflictError:
                    attempts += 1
                    if expected_seq is not None or attempts >= _AUTO_RETRIES:
                        raise

    def _try_append(
        self, prepared: list[tuple[str, str, str]], expected_seq: int | None
    ) -> list[LedgerEntry]:
        now = _now()
        cached = self._head
        head = cached or (0, GENESIS_HASH)
        try:
            with self._engine.begin() as conn:
                if cached is None or (expected_seq is not None and expected_seq != head[0] + 1):
                    head = self._load_head(conn)
                if expected_seq is not None and expected_seq != head[0] + 1:
                    raise LedgerConflictError(expected_seq, head[0])
                rows = chain_rows(self.name, prepared, head[0], head[1], now)
                if len(rows) == 1 and self._sql.append_next is not None:
                    self._append_one(conn, head, rows[0], now)
                else:
                    conn.execute(self._sql.insert_entries, rows)
                    self._move_head(conn, head, rows[-1], now)
        except sa.exc.IntegrityError as exc:
            self._head = None
            actual = self.head()[0]
            raise LedgerConflictError(head[0] + 1, actual) from exc
        except sa.exc.SQLAlchemyError as exc:
            self._head = None
            raise StorageError(f"appending to ledger {self.name!r} failed: {exc}") from exc
        except LedgerConflictError:
            self._head = None
            raise
        self._head = (rows[-1]["seq"], rows[-1]["entry_hash"])
        return [LedgerEntry(**row) for row in rows]

    def _head_params(
        self, head: tuple[int, str], last: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        return {
            "b_ledger": self.name,
            "old_seq": head[0],
            "new_seq": last["seq"],
            "new_hash": last["entry_hash"],
            "now": now,
        }

    def _append_one(
        self, conn: Connection, head: tuple[int, str], row: dict[str, Any], now: datetime
    ) -> None:
        """One round trip on PostgreSQL: the head's compare-and-set and the insert together."""
        first = head[0] == 0
        statement = self._sql.append_first if first else self._sql.append_next
        assert statement is not None
        params = self._head_params(head, row, now) | {f"e_{k}": v for k, v in row.items()}
        # RETURNING, because DBAPI rowcount is not reported for INSERT ... SELECT with CTEs.
        if len(conn.execute(statement, params).all()) != 1:
            raise LedgerConflictError(head[0] + 1, self._load_head(conn)[0])

    def _move_head(
        self, conn: Connection, head: tuple[int, str], last: dict[str, Any], now: datetime
    ) -> None:
        if head[0] == 0:
            conn.execute(
                self._sql.insert_head,
                {
                    "ledger": self.name,
                    "head_seq": last["seq"],
                    "head_hash": last["entry_hash"],
                    "updated_at": now,
                },
            )
            return
        moved = conn.execute(self._sql.move_head, self._head_params(head, last, now)).rowcount
        if moved != 1:
            raise LedgerConflictError(head[0] + 1, self._load_head(conn)[0])

    # -- read ---------------------------------------------------------------------------------

    def _page(self, after: int, size: int) -> list[LedgerEntry]:
        try:
            with self._engine.connect() as conn:
                result = conn.execute(
                    self._sql.select_page, {"b_ledger": self.name, "after": after, "page": size}
                )
                return [LedgerEntry(self.name, *row) for row in result]
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"reading ledger {self.name!r} failed: {exc}") from exc

    def entries(self, start: int = 0, *, page_size: int = 1000) -> Iterator[LedgerEntry]:
        """Entries with ``seq > start`` in seq order, read page by page."""
        after = start
        while True:
            page = self._page(after, page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].seq

    # -- replay -------------------------------------------------------------------------------

    def position(self, consumer: str) -> int:
        """The last seq ``consumer`` has applied (0 when it has applied nothing)."""
        _check_name("consumer", consumer)
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    self._sql.select_position, {"b_consumer": consumer, "b_ledger": self.name}
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"reading consumer {consumer!r} position failed: {exc}") from exc
        return 0 if row is None else int(row[0])

    def _save_position(self, consumer: str, seq: int) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    self._sql.save_position,
                    {
                        "consumer": consumer,
                        "ledger": self.name,
                        "last_seq": seq,
                        "updated_at": _now(),
                    },
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"saving consumer {consumer!r} position failed: {exc}") from exc

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
        start = self.position(consumer)
        state = _ReplayState(position=start)
        try:
            self._replay_pages(state, handler, page_size, on_progress)
        finally:
            if state.position != state.saved:
                self._save_position(consumer, state.position)
        head_seq = self.head()[0]
        if head_seq > state.position:
            raise LedgerGapError(state.position + 1)
        return ReplayReport(self.name, consumer, start, state.position, state.applied)

    def _replay_pages(
        self,
        state: _ReplayState,
        handler: Handler,
        page_size: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        hasher = EntryHasher()
        while True:
            page = self._page(state.position, page_size)
            for entry in page:
                _check_replayable(entry, state, hasher)
                handler(entry)
                state.advance(entry)
            if on_progress is not None and page:
                on_progress(state.applied, state.position)
            if len(page) < page_size:
                return

    def verify(self) -> LedgerVerification:
        """Verify the whole chain against the recorded head (see :func:`verify_ledger_integrity`)."""
        return verify_ledger(self._engine, self.name)


@dataclass
class _ReplayState:
    position: int
    saved: int = -1
    applied: int = 0
    prev_hash: str | None = None

    def __post_init__(self) -> None:
        self.saved = self.position

    def advance(self, entry: LedgerEntry) -> None:
        self.position = entry.seq
        self.prev_hash = entry.entry_hash
        self.applied += 1


def _check_replayable(entry: LedgerEntry, state: _ReplayState, hasher: EntryHasher) -> None:
    if entry.seq != state.position + 1:
        raise LedgerGapError(state.position + 1)
    if sha256_hex(entry.payload.encode("utf-8")) != entry.checksum:
        raise LedgerIntegrityError(entry.seq, "payload does not match its checksum")
    linked = state.prev_hash is None or entry.prev_hash == state.prev_hash
    if not linked or hasher(entry.seq, entry.event_type, entry.checksum, entry.prev_hash) != (
        entry.entry_hash
    ):
        raise LedgerIntegrityError(entry.seq, "entry hash or chain link does not match")


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


def verify_ledger_integrity(engine: Engine, ledger: str = "default") -> LedgerVerification:
    """Verify ``ledger``: edits, deletions, reorderings, truncation and forks.

    Returns a :class:`LedgerVerification` naming the first bad seq; call its
    ``raise_for_failure()`` to turn a failure into :class:`LedgerIntegrityError`.
    """
    return verify_ledger(engine, _check_name("ledger name", ledger))
