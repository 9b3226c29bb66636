"""Appending to one ledger: validation, hash chaining and the compare-and-set on its head.

An append names the sequence number it expects to write (``expected_seq``, the head + 1). The
primary key (ledger, seq) and a compare-and-set on the recorded head in ``ledger_heads`` (one
atomic unit: the same transaction, or on PostgreSQL for a single entry the same statement) make
a lost race fail as :class:`LedgerConflictError`; nothing is written, and the caller re-reads the
head and retries. Without ``expected_seq`` the appender retries on its own until a deadline,
with backoff (:mod:`.retry`), since the caller did not ask for compare-and-set. The last head
this process committed is remembered, so an uncontended append of a few entries (up to
``MAX_ONE_STATEMENT``) on PostgreSQL is one statement in autocommit: no BEGIN, no COMMIT. An
append may also join a caller's transaction (``connection``), so that rows the caller writes
there (an outbox row) commit or roll back together with the entries.

After each append the appender commits itself, ``on_commit`` (when given) hears the head
before and after: the ledger takes its periodic signed checkpoints there (:mod:`.anchor`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform._dberror import storage_error
from agent_platform.canonical import canonical_json, sha256_hex
from agent_platform.errors import InvalidInputError, LedgerConflictError, PayloadError
from agent_platform.state.ledger.chain import GENESIS_HASH, chain_rows
from agent_platform.state.ledger.entry import LedgerEntry, check_name
from agent_platform.state.ledger.retry import AppendRetry, LedgerContentionError
from agent_platform.state.ledger.sql import LedgerStatements, entry_param

__all__ = ["CommitHook", "LedgerAppender", "Prepared"]

Prepared = tuple[str, str, str]
"""(event_type, canonical JSON payload, checksum)."""

CommitHook = Callable[[int, int, str], object]
"""Called after an append the appender committed: (old head seq, new head seq, new head hash)."""


class LedgerAppender:
    """Appends to the ledger ``name``; one per :class:`~agent_platform.state.ledger_replay.Ledger`. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        sql: LedgerStatements,
        max_payload_bytes: int,
        *,
        retry: AppendRetry | None = None,
        on_commit: CommitHook | None = None,
    ) -> None:
        self._engine = engine
        self._name = name
        self._sql = sql
        self._max_payload = max_payload_bytes
        self._retry = retry or AppendRetry()
        self._on_commit = on_commit
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None

    @property
    def name(self) -> str:
        """The ledger this appender writes to."""
        return self._name

    def load_head(self, conn: Connection) -> tuple[int, str]:
        """(head seq, head hash) as recorded, read on ``conn``; (0, 64 zeros) when empty."""
        row = conn.execute(self._sql.select_head, {"b_ledger": self._name}).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def head(self) -> tuple[int, str]:
        """(head seq, head hash) as recorded in the database."""
        try:
            with self._engine.connect() as conn:
                return self.load_head(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error(f"reading the head of ledger {self._name!r}", exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction of the caller's (see :meth:`agent_platform.state.ledger_replay.Ledger.transaction`)."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error(f"a transaction on ledger {self._name!r}", exc) from exc

    def _prepare(self, event_type: object, payload: Any) -> Prepared:
        kind = check_name("event_type", event_type)
        body = canonical_json(payload)
        if len(body) > self._max_payload:
            raise PayloadError(
                f"ledger event {kind!r}: payload is {len(body)} bytes of canonical JSON; "
                f"allowed: at most {self._max_payload}"
            )
        return kind, body.decode("utf-8"), sha256_hex(body)

    def prepare_all(self, events: Iterable[tuple[str, Any]]) -> list[Prepared]:
        """Validate and encode ``events`` (bad type or payload: nothing is written)."""
        return [self._prepare(kind, payload) for kind, payload in events]

    def take_head(self) -> tuple[int, str] | None:
        """The remembered head, forgotten until :meth:`remember_head` (an append in flight)."""
        with self._lock:
            cached, self._head = self._head, None
        return cached

    def remember_head(self, head: tuple[int, str], old_seq: int | None = None) -> None:
        """Remember the head an append of this process has just committed (from ``old_seq``,
        when known, which :data:`CommitHook` hears about)."""
        with self._lock:
            self._head = head
        if old_seq is not None:
            self.committed(old_seq, head)

    def committed(self, old_seq: int, head: tuple[int, str]) -> None:
        """Tell the commit hook that this appender moved the head from ``old_seq``."""
        if self._on_commit is not None:
            self._on_commit(old_seq, head[0], head[1])

    def append_many(
        self,
        events: Iterable[tuple[str, Any]],
        expected_seq: int | None,
        connection: Connection | None = None,
    ) -> list[LedgerEntry]:
        """Validate every event, then append them all in one transaction (or none).

        With ``connection`` the entries are written in the caller's transaction (the caller
        commits or rolls back) and a lost race raises at once: no retry, since a failed
        statement spoils the caller's transaction on PostgreSQL.
        """
        prepared = [self._prepare(kind, payload) for kind, payload in events]
        if not prepared:
            return []
        if expected_seq is not None and (isinstance(expected_seq, bool) or expected_seq < 1):
            raise InvalidInputError(f"expected_seq: got {expected_seq!r}; allowed: an int >= 1")
        with self._lock:
            entries = self._append_retrying(prepared, expected_seq, connection)
        if connection is None:
            self.committed(entries[0].seq - 1, (entries[-1].seq, entries[-1].entry_hash))
        return entries

    def _append_retrying(
        self, prepared: list[Prepared], expected_seq: int | None, connection: Connection | None
    ) -> list[LedgerEntry]:
        """Attempts until one wins; lost races are retried only when the caller asked for no
        compare-and-set, until the retry policy's deadline (then LedgerContentionError)."""
        started = time.monotonic()
        lost = 0
        while True:
            try:
                return self._attempt(prepared, expected_seq, connection)
            except LedgerConflictError as exc:
                lost += 1
                if connection is not None or expected_seq is not None:
                    raise
                elapsed = time.monotonic() - started
                remaining = self._retry.deadline_s - elapsed
                if remaining <= 0:
                    raise LedgerContentionError(
                        self._name, exc.expected_seq, exc.actual_head, lost, elapsed
                    ) from exc
                time.sleep(self._retry.pause_s(lost, remaining))

    def _attempt(
        self, prepared: list[Prepared], expected_seq: int | None, connection: Connection | None
    ) -> list[LedgerEntry]:
        """One try, on the caller's ``connection`` or on a connection of the appender's own.

        The head is remembered only after a commit of the appender's own: a caller's
        transaction may still roll back.
        """
        cached, self._head = self._head, None
        now = datetime.now(UTC)
        try:
            if connection is not None:
                rows = self._write(connection, None, prepared, expected_seq, now)
            else:
                with self._own_connection(len(prepared)) as conn:
                    rows = self._write(conn, cached, prepared, expected_seq, now)
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error(f"appending to ledger {self._name!r}", exc) from exc
        if connection is None:
            self._head = (rows[-1]["seq"], rows[-1]["entry_hash"])
        return [LedgerEntry(**row) for row in rows]

    @contextmanager
    def _own_connection(self, count: int) -> Iterator[Connection]:
        """A transaction, or, for up to ``MAX_ONE_STATEMENT`` entries on PostgreSQL, an
        autocommit connection.

        Such an append is one statement there (:meth:`_append_rows`: the head's compare-and-set
        and the inserts in one ``INSERT ... SELECT`` with a data-modifying CTE), atomic on its
        own, so the BEGIN and COMMIT round trips are saved. Reading the head before it, when
        not remembered, needs no transaction either: the compare-and-set re-checks it.
        """
        if self._sql.one_statement(False, count) is not None:
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        else:
            with self._engine.begin() as conn:
                yield conn

    def _start_head(
        self, conn: Connection, cached: tuple[int, str] | None, expected_seq: int | None
    ) -> tuple[int, str]:
        """The head to chain onto: remembered, known (an expected first entry), or read."""
        if cached is None and expected_seq == 1:
            return (0, GENESIS_HASH)  # the primary keys refuse it when the ledger is not empty
        if cached is None or (expected_seq is not None and expected_seq != cached[0] + 1):
            return self.load_head(conn)
        return cached

    def _write(
        self,
        conn: Connection,
        cached: tuple[int, str] | None,
        prepared: list[Prepared],
        expected_seq: int | None,
        now: datetime,
    ) -> list[dict[str, Any]]:
        head = self._start_head(conn, cached, expected_seq)
        if expected_seq is not None and expected_seq != head[0] + 1:
            raise LedgerConflictError(expected_seq, head[0])
        rows = chain_rows(self._name, prepared, head[0], head[1], now)
        try:
            if self._sql.one_statement(False, len(rows)) is not None:
                self._append_rows(conn, head, rows, now)
            else:
                conn.execute(self._sql.insert_entries, rows)
                self._move_head(conn, head, rows[-1], now)
        except sa.exc.IntegrityError as exc:  # the (ledger, seq) key of an entry or the head
            raise LedgerConflictError(head[0] + 1, self.head()[0]) from exc
        return rows

    def _head_params(
        self, head: tuple[int, str], last: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        return {
            "b_ledger": self._name,
            "old_seq": head[0],
            "new_seq": last["seq"],
            "new_hash": last["entry_hash"],
            "now": now,
        }

    def _append_rows(
        self, conn: Connection, head: tuple[int, str], rows: list[dict[str, Any]], now: datetime
    ) -> None:
        """One round trip on PostgreSQL: the head's compare-and-set and the inserts together."""
        statement = self._sql.one_statement(head[0] == 0, len(rows))
        assert statement is not None
        params = self._head_params(head, rows[-1], now)
        for index, row in enumerate(rows):
            params.update({entry_param(index, k): v for k, v in row.items()})
        # RETURNING, because DBAPI rowcount is not reported for INSERT ... SELECT with CTEs.
        if len(conn.execute(statement, params).all()) != len(rows):
            raise LedgerConflictError(head[0] + 1, self.load_head(conn)[0])

    def _move_head(
        self, conn: Connection, head: tuple[int, str], last: dict[str, Any], now: datetime
    ) -> None:
        if head[0] == 0:
            conn.execute(
                self._sql.insert_head,
                {
                    "ledger": self._name,
                    "head_seq": last["seq"],
                    "head_hash": last["entry_hash"],
                    "updated_at": now,
                },
            )
            return
        moved = conn.execute(self._sql.move_head, self._head_params(head, last, now)).rowcount
        if moved != 1:
            raise LedgerConflictError(head[0] + 1, self.load_head(conn)[0])
