"""The streaming walk along one chain: every link and every hash, from a known point on.

Rows are read in ``seq`` order through a server-side cursor (PostgreSQL) or SQLite's lazy
cursor, in partitions, and hashed with :mod:`hashlib` directly, so a million entries take
seconds. The first problem found stops the walk and is named by its sequence number. The walk
starts at the genesis (verification) or at a signed checkpoint (before signing the next one:
:mod:`.anchoring`), and remembers the hash at the sequence numbers it is asked to watch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from agent_platform.state.ledger.chain import GENESIS_HASH, EntryHasher
from agent_platform.state.ledger.sql import CHAIN_COLUMNS
from agent_platform.state.tables import ledger_entries

__all__ = ["Scan", "scan_chain"]

_PARTITION = 20_000

_Row = Sequence[Any]


@dataclass(frozen=True)
class Scan:
    """Where a walk got to: entries checked, the last good seq and hash, the watched hashes,
    and the first bad seq with the reason (None when the walk ended cleanly)."""

    checked: int
    last_seq: int
    last_hash: str
    hashes: dict[int, str] = field(default_factory=dict)
    bad_seq: int | None = None
    reason: str | None = None

    def hash_at(self, seq: int) -> str | None:
        """The entry hash at ``seq`` if the walk watched it or ended there."""
        return self.last_hash if seq == self.last_seq else self.hashes.get(seq)

    def failed(self, bad_seq: int, reason: str) -> Scan:
        return replace(self, bad_seq=bad_seq, reason=reason)


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


def _walk(
    partitions: Iterable[Sequence[_Row]], start: tuple[int, str], watch: Collection[int]
) -> Scan:
    """Walk the chain after ``start``; stop at the first broken entry."""
    hasher = EntryHasher()
    sha256 = hashlib.sha256
    expected = start[0] + 1
    prev = start[1]
    hashes: dict[int, str] = {}
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
                checked = expected - 1 - start[0]
                return Scan(checked, expected - 1, prev, hashes, expected, reason)
            if seq in watch:
                hashes[seq] = stored
            prev = stored
            expected += 1
    return Scan(expected - 1 - start[0], expected - 1, prev, hashes)


def _partitions(
    conn: sa.Connection, ledger: str, after: int, upto: int | None
) -> Iterator[Sequence[_Row]]:
    entry = ledger_entries.c
    query = sa.select(*CHAIN_COLUMNS).where(entry.ledger == ledger).order_by(entry.seq)
    if after > 0:
        query = query.where(entry.seq > after)
    if upto is not None:
        query = query.where(entry.seq <= upto)
    result = conn.execution_options(stream_results=True, yield_per=_PARTITION).execute(query)
    yield from result.partitions()


def scan_chain(
    conn: sa.Connection,
    ledger: str,
    *,
    start: tuple[int, str] = (0, GENESIS_HASH),
    upto: int | None = None,
    watch: Collection[int] = (),
) -> Scan:
    """Walk ``ledger``'s entries after ``start`` (seq, hash of that entry) up to ``upto``.

    The first entry read must be ``start[0] + 1`` and link to ``start[1]``; the hash at each
    seq in ``watch`` is kept in :attr:`Scan.hashes`.
    """
    return _walk(_partitions(conn, ledger, start[0], upto), start, frozenset(watch))
