"""The fast entry hasher must produce exactly the reference (canonical JSON) hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent_platform.canonical import sha256_hex
from agent_platform.state.ledger.chain import GENESIS_HASH, EntryHasher, chain_rows, entry_hash


@pytest.mark.parametrize(
    "event_type", ["graph.step", "état.modifié", 'quote"and\\slash', "tab\tnew\nline", "😀"]
)
def test_fast_hash_equals_reference(event_type: str) -> None:
    hasher = EntryHasher()
    checksum = sha256_hex(b"{}")
    for seq in (1, 2, 10**12):
        assert hasher(seq, event_type, checksum, GENESIS_HASH) == entry_hash(
            seq, event_type, checksum, GENESIS_HASH
        )


def test_chain_rows_link_each_entry_to_the_previous() -> None:
    now = datetime.now(UTC)
    events = [("a", '{"n":1}', sha256_hex(b'{"n":1}')), ("b", "2", sha256_hex(b"2"))]
    rows = chain_rows("l", events, 0, GENESIS_HASH, now)
    assert [r["seq"] for r in rows] == [1, 2]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert rows[1]["prev_hash"] == rows[0]["entry_hash"]
    more = chain_rows("l", events[:1], 2, rows[1]["entry_hash"], now)
    assert more[0]["seq"] == 3 and more[0]["prev_hash"] == rows[1]["entry_hash"]
