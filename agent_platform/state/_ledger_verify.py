"""Streaming verification of one ledger: every link, every hash, against the recorded head.

Rows are read in ``seq`` order through a server-side cursor (PostgreSQL) or SQLite's lazy
cursor, in partitions, and hashed with :mod:`hashlib` directly, so a million entries take
seconds. The first problem found stops the pass and is named by its sequence number.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.errors import LedgerIntegrityError
from agent_platform.state._chain import GENESIS_HASH, EntryHasher
from agent_platform.state.tables import ledger_entries, ledger_heads

__all__ = ["LedgerVerification", "verify_ledger"]

_PARTITION = 20_000


@dataclass(frozen=True)
class LedgerVerification:
    """The outcome of verifying one ledger.

    Attributes:
        ok: True when the chain is intact and ends at the recorded head.
        entries_checked: entries hashed before the pass ended.
        last_seq: the highest sequence number read (0 for an empty ledger).
        recorded_head_seq: the head recorded by appends (0 when none was recorded).
        first_bad_seq: the first sequence number that is wrong, or None.
        reason: what is wrong with it, or None.
        elapsed_s: wall time of the pass.
    """

    ledger: str
    ok: bool
    entries_checked: int
    last_seq: int
    recorded_head_seq: int
    first_bad_seq: int | None
    reason: str | None
    elapsed_s: float

    def raise_for_failure(self) -> None:
        """Raise :class:`LedgerIntegrityError` naming the first bad entry, if any."""
        if not self.ok and self.first_bad_seq is not None:
            raise LedgerIntegrityError(self.first_bad_seq, self.reason or "tampered")


@dataclass(frozen=True)
class _Scan:
    checked: int
    last_seq: int
    last_hash: str
    watched_hash: str | None = None
    bad_seq: int | None = None
    reason: str | None = None

    def failed(self, bad_seq: int, reason: str) -> _Scan:
        return _Scan(
            self.checked, self.last_seq, self.last_hash, self.watched_hash, bad_seq, reason
        )


_Row = Sequence[Any]


def _diagnose_hash(row: _Row, hasher: EntryHasher) -> str:
    """Why an entry's stored hash does not match (only called on failure)."""
    seq, event_type, _payload, checksum, prev_hash, stored = row
    for other in (seq + 1, seq - 1):
        if hasher(other, event_type, checksum, prev_hash) == stored:
            return f"entry holds the content of seq {other}: entries were reordered"
    return "entry_hash does not match its seq, event_type, checksum and prev_hash (edited)"


def _diagnose_checksum(row: _Row, hasher: EntryHasher) -> str:
    seq, event_type, _payload, checksum, prev_hash, stored = row
    if hasher(seq, event_type, checksum, prev_hash) == stored:
        return "payload does not match its checksum (payload edited)"
    return "checksum does not match the payload nor the entry hash (checksum edited)"


def _scan(partitions: Iterable[Sequence[_Row]], watch_seq: int) -> _Scan:
    """Walk the chain; stop at the first broken entry; remember the hash at ``watch_seq``."""
    hasher = EntryHasher()
    sha256 = hashlib.sha256
    expected = 1
    prev = GENESIS_HASH
    watched: str | None = None
    for partition in partitions:
        for row in partition:
            seq, event_type, payload, checksum, prev_hash, stored = row
            reason = None
            if seq != expected:
                reason = f"entry seq {expected} is missing (deleted); next is seq {seq}"
            elif sha256(payload.encode("utf-8")).hexdigest() != checksum:
                reason = _diagnose_checksum(row, hasher)
            elif hasher(seq, event_type, checksum, prev_hash) != stored:
                reason = _diagnose_hash(row, hasher)
            elif prev_hash != prev:
                reason = f"fork: prev_hash does not point at entry seq {seq - 1}"
            if reason is not None:
                return _Scan(expected - 1, expected - 1, prev, watched, expected, reason)
            if seq == watch_seq:
                watched = stored
            prev = stored
            expected += 1
    return _Scan(expected - 1, expected - 1, prev, watched)


def _check_head(scan: _Scan, head: tuple[int, str]) -> _Scan:
    """Compare an intact chain with the head the appends recorded (read before the scan)."""
    head_seq, head_hash = head
    if head_seq > scan.last_seq:
        return scan.failed(
            scan.last_seq + 1,
            f"truncated: recorded head is seq {head_seq}, the ledger ends at seq {scan.last_seq}",
        )
    if head_seq < scan.last_seq:
        return scan.failed(
            head_seq + 1,
            f"entry beyond the recorded head seq {head_seq} (not appended by a Ledger)",
        )
    if head_seq > 0 and scan.watched_hash != head_hash:
        return scan.failed(head_seq, "fork: entry at the recorded head has a different hash")
    return scan


def _partitions(conn: sa.Connection, ledger: str) -> Iterator[Sequence[_Row]]:
    query = (
        sa.select(
            ledger_entries.c.seq,
            ledger_entries.c.event_type,
            ledger_entries.c.payload,
            ledger_entries.c.checksum,
            ledger_entries.c.prev_hash,
            ledger_entries.c.entry_hash,
        )
        .where(ledger_entries.c.ledger == ledger)
        .order_by(ledger_entries.c.seq)
    )
    result = conn.execution_options(stream_results=True, yield_per=_PARTITION).execute(query)
    yield from result.partitions()


def _recorded_head(conn: sa.Connection, ledger: str) -> tuple[int, str]:
    """(head_seq, head_hash); (0, GENESIS_HASH) when nothing was appended yet."""
    row = conn.execute(
        sa.select(ledger_heads.c.head_seq, ledger_heads.c.head_hash).where(
            ledger_heads.c.ledger == ledger
        )
    ).first()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def verify_ledger(engine: Engine, ledger: str) -> LedgerVerification:
    """Verify ``ledger`` from its first entry to its recorded head.

    The head is read before the entries, so appends that commit during the pass show up as
    entries beyond the head; the head is then read again, and only entries that are still
    beyond it count as tampering.
    """
    start = time.perf_counter()
    try:
        with engine.connect() as conn:
            head = _recorded_head(conn, ledger)
            conn.commit()
            scan = _scan(_partitions(conn, ledger), head[0])
            conn.commit()
            if scan.bad_seq is None and scan.last_seq > head[0]:
                head = _recorded_head(conn, ledger)
                if head[0] > scan.last_seq:
                    # Appended after the pass ended: check the chain up to what was read.
                    head = (scan.last_seq, scan.last_hash)
                scan = _Scan(scan.checked, scan.last_seq, scan.last_hash, scan.last_hash)
            if scan.bad_seq is None:
                scan = _check_head(scan, head)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading ledger {ledger!r} for verification", exc) from exc
    return LedgerVerification(
        ledger=ledger,
        ok=scan.bad_seq is None,
        entries_checked=scan.checked,
        last_seq=scan.last_seq,
        recorded_head_seq=head[0],
        first_bad_seq=scan.bad_seq,
        reason=scan.reason,
        elapsed_s=time.perf_counter() - start,
    )
