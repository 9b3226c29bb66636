"""How ledger entries are hashed and chained (pure functions, no I/O).

``checksum`` is the SHA-256 of the entry's canonical JSON payload; ``entry_hash`` is the SHA-256
of the canonical JSON array ``[seq, event_type, checksum, prev_hash]``; ``prev_hash`` is the
previous entry's ``entry_hash`` (64 zeros before the first entry, seq 1). The array is built by
string formatting instead of ``json.dumps`` because verification hashes millions of entries;
:func:`entry_hash` is the reference and a test keeps the two identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent_platform.canonical import canonical_json, sha256_hex

__all__ = ["GENESIS_HASH", "EntryHasher", "chain_rows", "entry_hash"]

GENESIS_HASH = "0" * 64


def entry_hash(seq: int, event_type: str, checksum: str, prev_hash: str) -> str:
    """The reference definition of an entry's hash."""
    return sha256_hex(canonical_json([seq, event_type, checksum, prev_hash]))


class EntryHasher:
    """Fast :func:`entry_hash` that memoises the JSON encoding of event types."""

    def __init__(self) -> None:
        self._encoded: dict[str, str] = {}

    def encoded_type(self, event_type: str) -> str:
        encoded = self._encoded.get(event_type)
        if encoded is None:
            encoded = json.dumps(event_type, ensure_ascii=False)
            self._encoded[event_type] = encoded
        return encoded

    def __call__(self, seq: int, event_type: str, checksum: str, prev_hash: str) -> str:
        text = f'[{seq},{self.encoded_type(event_type)},"{checksum}","{prev_hash}"]'
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_rows(
    ledger: str,
    events: Sequence[tuple[str, str, str]],
    head_seq: int,
    head_hash: str,
    created_at: datetime,
) -> list[dict[str, Any]]:
    """Rows for ``events`` ((event_type, payload, checksum)) chained after the given head."""
    hasher = EntryHasher()
    rows: list[dict[str, Any]] = []
    prev = head_hash
    seq = head_seq
    for event_type, payload, checksum in events:
        seq += 1
        digest = hasher(seq, event_type, checksum, prev)
        rows.append(
            {
                "ledger": ledger,
                "seq": seq,
                "event_type": event_type,
                "payload": payload,
                "checksum": checksum,
                "prev_hash": prev,
                "entry_hash": digest,
                "created_at": created_at,
            }
        )
        prev = digest
    return rows
