"""The ledger's head anchored outside its database: each SQL-only attack that the chain and its
recorded head cannot reveal, on SQLite and PostgreSQL, is found by the signed checkpoints.

Every attack below is real SQL against the ledger's tables, done with nothing but database
access (the checkpoint files and the key are not touched). Each test first shows that the
attack passes verification without an anchor, then that the anchored verification names it.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent_platform.canonical import sha256_hex
from agent_platform.errors import ConfigError, LedgerIntegrityError
from agent_platform.state.ledger.chain import entry_hash
from agent_platform.state.ledger.checkpoints import Checkpoint, CheckpointLog
from agent_platform.state.ledger_replay import (
    Ledger,
    LedgerAnchor,
    checkpoint_ledger,
    verify_ledger_integrity,
)
from agent_platform.state.tables import ledger_entries, ledger_heads

E = ledger_entries.c
H = ledger_heads.c


def _anchor(tmp_path: Path, every: int = 0) -> LedgerAnchor:
    return LedgerAnchor(CheckpointLog(tmp_path / "checkpoints"), tmp_path / "key.pem", every=every)


@pytest.fixture
def anchor(tmp_path: Path) -> LedgerAnchor:
    return _anchor(tmp_path)


def _filled(engine: sa.Engine, anchor: LedgerAnchor, name: str = "audit") -> Ledger:
    """Ten entries, checkpointed at seq 10."""
    ledger = Ledger(engine, name, anchor=anchor)
    ledger.append_many([("step", {"n": n}) for n in range(10)])
    checkpoint = ledger.checkpoint()
    assert checkpoint is not None and checkpoint.seq == 10
    return ledger


def _hash_at(engine: sa.Engine, name: str, seq: int) -> str:
    with engine.connect() as conn:
        query = sa.select(E.entry_hash).where(E.ledger == name, E.seq == seq)
        return str(conn.execute(query).scalar_one())


def _delete_ledger(engine: sa.Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger_entries).where(E.ledger == name))
        conn.execute(sa.delete(ledger_heads).where(H.ledger == name))


def _truncate_with_head(engine: sa.Engine, name: str, keep: int) -> None:
    head_hash = _hash_at(engine, name, keep)
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger_entries).where(E.ledger == name, E.seq > keep))
        conn.execute(
            sa.update(ledger_heads)
            .where(H.ledger == name)
            .values(head_seq=keep, head_hash=head_hash)
        )


def _rewind_head(engine: sa.Engine, name: str, to: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(ledger_heads)
            .where(H.ledger == name)
            .values(head_seq=to, head_hash=_hash_at(engine, name, to))
        )


def _rewrite_from(engine: sa.Engine, name: str, seq: int) -> None:
    """Edit entry ``seq`` and recompute every later link and hash, and the head: a chain that
    is consistent from end to end, as a careful attacker with SQL would leave it."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(E.seq, E.event_type, E.payload, E.prev_hash)
            .where(E.ledger == name, E.seq >= seq)
            .order_by(E.seq)
        ).all()
        prev = rows[0].prev_hash
        for row in rows:
            payload = '{"forged":true}' if row.seq == seq else row.payload
            checksum = sha256_hex(payload.encode())
            digest = entry_hash(row.seq, row.event_type, checksum, prev)
            conn.execute(
                sa.update(ledger_entries)
                .where(E.ledger == name, E.seq == row.seq)
                .values(payload=payload, checksum=checksum, prev_hash=prev, entry_hash=digest)
            )
            prev = digest
        conn.execute(sa.update(ledger_heads).where(H.ledger == name).values(head_hash=prev))


def test_intact_anchored_ledger_verifies(engine: sa.Engine, anchor: LedgerAnchor) -> None:
    ledger = _filled(engine, anchor)
    result = ledger.verify()
    assert result.ok and result.entries_checked == 10 and result.findings == ()
    assert result.anchor is not None and result.anchor["newest_seq"] == 10
    assert result.anchor["entries_after_newest"] == 0


def test_deleted_ledger_is_missing(engine: sa.Engine, anchor: LedgerAnchor) -> None:
    _filled(engine, anchor)
    _delete_ledger(engine, "audit")
    assert verify_ledger_integrity(engine, "audit").ok  # the database alone sees nothing
    result = verify_ledger_integrity(engine, "audit", anchor=anchor)
    assert not result.ok and result.kind == "missing" and result.first_bad_seq == 1
    assert "ledger missing" in (result.reason or "")
    with pytest.raises(LedgerIntegrityError):
        result.raise_for_failure()


def test_truncation_with_the_head_moved_back(engine: sa.Engine, anchor: LedgerAnchor) -> None:
    ledger = _filled(engine, anchor)
    _truncate_with_head(engine, "audit", keep=6)
    assert verify_ledger_integrity(engine, "audit").ok
    result = ledger.verify()
    assert not result.ok and result.kind == "truncated" and result.first_bad_seq == 7
    assert "ends at seq 6" in (result.reason or "") and "moved back to seq 6" in (
        result.reason or ""
    )


def test_head_rewound_over_surviving_entries(engine: sa.Engine, anchor: LedgerAnchor) -> None:
    ledger = _filled(engine, anchor)
    _rewind_head(engine, "audit", to=4)
    result = ledger.verify()
    assert not result.ok and result.kind == "head_rewound" and result.first_bad_seq == 5
    assert {f.kind for f in result.findings} == {"head_rewound", "chain"}


def test_rewritten_chain_with_every_hash_recomputed(
    engine: sa.Engine, anchor: LedgerAnchor
) -> None:
    ledger = _filled(engine, anchor)
    _rewrite_from(engine, "audit", seq=4)
    assert verify_ledger_integrity(engine, "audit").ok
    result = ledger.verify()
    assert not result.ok and result.kind == "rewritten" and result.first_bad_seq == 1
    assert "rewritten since seq 1" in (result.reason or "")


def test_periodic_checkpoints_bracket_a_rewrite(engine: sa.Engine, tmp_path: Path) -> None:
    anchor = _anchor(tmp_path, every=5)
    ledger = Ledger(engine, "periodic", anchor=anchor)
    for n in range(12):
        ledger.append_event("step", {"n": n})
    signed = [c.seq for c in anchor.view(anchor.scope_for(engine), "periodic").checkpoints]
    assert signed == [5, 10]
    _rewrite_from(engine, "periodic", seq=7)
    result = ledger.verify()
    assert result.kind == "rewritten" and result.first_bad_seq == 6  # between seq 5 and 10


def test_rewrite_after_the_newest_checkpoint_rests_on_the_chain_alone(
    engine: sa.Engine, anchor: LedgerAnchor
) -> None:
    """The documented limit: entries after the newest checkpoint have only the chain."""
    ledger = _filled(engine, anchor)
    ledger.append_many([("late", {"n": n}) for n in range(3)])
    _rewrite_from(engine, "audit", seq=12)
    result = ledger.verify()
    assert result.ok and result.anchor is not None
    assert result.anchor["newest_seq"] == 10 and result.anchor["entries_after_newest"] == 3


def test_a_checkpoint_is_never_signed_over_a_broken_chain(
    engine: sa.Engine, anchor: LedgerAnchor
) -> None:
    ledger = _filled(engine, anchor)
    ledger.append_many([("more", {"n": n}) for n in range(5)])
    with engine.begin() as conn:
        conn.execute(
            sa.update(ledger_entries)
            .where(E.ledger == "audit", E.seq == 12)
            .values(payload='{"n":99}')
        )
    with pytest.raises(LedgerIntegrityError) as info:
        ledger.checkpoint()
    assert info.value.seq == 12
    scope = anchor.scope_for(engine)
    assert [c.seq for c in anchor.view(scope, "audit").checkpoints] == [10]


def test_checkpoint_of_an_unmoved_head_adds_nothing(
    engine: sa.Engine, anchor: LedgerAnchor
) -> None:
    ledger = _filled(engine, anchor)
    path = anchor.log.path_for(anchor.scope_for(engine))
    lines = path.read_bytes().count(b"\n")
    assert checkpoint_ledger(engine, "audit", anchor) == ledger.checkpoint()
    assert path.read_bytes().count(b"\n") == lines == 1
    assert Ledger(engine, "empty", anchor=anchor).checkpoint() is None


def _edit_line(path: Path, **values: object) -> None:
    line = json.loads(path.read_text(encoding="utf-8"))
    line.update(values)
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")


def test_a_forged_checkpoint_is_invalid(engine: sa.Engine, tmp_path: Path) -> None:
    anchor = _anchor(tmp_path)
    _filled(engine, anchor)
    path = anchor.log.path_for(anchor.scope_for(engine))
    _edit_line(path, seq=11)  # claims an entry that does not exist
    result = Ledger(engine, "audit", anchor=_anchor(tmp_path)).verify()
    assert not result.ok and result.kind == "checkpoint_invalid"
    assert "signature invalid" in (result.reason or "")


def test_a_checkpoint_of_another_key_is_a_key_mismatch(engine: sa.Engine, tmp_path: Path) -> None:
    _filled(engine, _anchor(tmp_path))
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(other)
    result = Ledger(engine, "audit", anchor=_anchor(tmp_path)).verify()
    assert not result.ok and result.kind == "key_mismatch"
    assert "signed by key" in (result.reason or "")


def test_a_torn_line_is_reported(engine: sa.Engine, tmp_path: Path) -> None:
    anchor = _anchor(tmp_path)
    _filled(engine, anchor)
    with open(anchor.log.path_for(anchor.scope_for(engine)), "ab") as handle:
        handle.write(b'{"v":1,"seq":\n')
    result = Ledger(engine, "audit", anchor=_anchor(tmp_path)).verify()
    assert not result.ok and result.kind == "checkpoint_unreadable"


def test_checkpoints_of_another_database_are_not_this_ones(
    engine: sa.Engine, tmp_path: Path
) -> None:
    anchor = _anchor(tmp_path)
    _filled(engine, anchor)
    elsewhere = LedgerAnchor(
        CheckpointLog(tmp_path / "checkpoints"), tmp_path / "key.pem", scope="another-database"
    )
    result = Ledger(engine, "audit", anchor=elsewhere).verify()
    assert result.ok and result.anchor is not None and result.anchor["checkpoints"] == 0
    # A line copied from this database's file into another's vouches for nothing there.
    line = anchor.log.path_for(anchor.scope_for(engine)).read_bytes()
    with open(elsewhere.log.path_for("another-database"), "ab") as handle:
        handle.write(line)
    moved = Ledger(engine, "audit", anchor=elsewhere).verify()
    assert not moved.ok and moved.kind == "checkpoint_invalid"
    assert "belongs to database" in (moved.reason or "")


def test_the_key_is_generated_once_private_and_announced(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    anchor = _anchor(tmp_path)
    with caplog.at_level(logging.WARNING):
        _filled(engine, anchor)
    key = tmp_path / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert anchor.generated_key == key and str(key) in caplog.text
    folder = tmp_path / "checkpoints"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    again = _anchor(tmp_path)
    assert again.signing_key().key_id == anchor.signing_key().key_id
    assert again.generated_key is None


def test_key_configuration_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENT_PLATFORM_LEDGER_KEY", str(tmp_path / "absent.pem"))
    with pytest.raises(ConfigError, match="AGENT_PLATFORM_LEDGER_KEY"):
        LedgerAnchor.from_env().signing_key()
    loose = tmp_path / "loose.pem"
    loose.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(loose, 0o644)
    monkeypatch.setenv("AGENT_PLATFORM_LEDGER_KEY", str(loose))
    with pytest.raises(ConfigError, match="chmod 600"):
        LedgerAnchor.from_env().signing_key()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key", encoding="utf-8")
    monkeypatch.setenv("AGENT_PLATFORM_LEDGER_KEY", str(garbage))
    with pytest.raises(ConfigError, match="ed25519"):
        LedgerAnchor.from_env().verifying_key()
    monkeypatch.setenv("AGENT_PLATFORM_LEDGER_CHECKPOINT_EVERY", "often")
    with pytest.raises(ConfigError, match="CHECKPOINT_EVERY"):
        LedgerAnchor.from_env()


def test_a_public_key_verifies_but_cannot_sign(engine: sa.Engine, tmp_path: Path) -> None:
    anchor = _anchor(tmp_path)
    _filled(engine, anchor)
    public = tmp_path / "public.pem"
    public.write_bytes(
        anchor.signing_key().public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    checker = LedgerAnchor(CheckpointLog(tmp_path / "checkpoints"), public, may_generate=False)
    ledger = Ledger(engine, "audit", anchor=checker)
    assert ledger.verify().ok
    ledger.append_event("after", {})
    with pytest.raises(ConfigError, match="private key"):
        ledger.checkpoint()


def test_a_witness_hears_each_checkpoint_and_cannot_undo_it(
    engine: sa.Engine, tmp_path: Path
) -> None:
    heard: list[Checkpoint] = []

    def witness(checkpoint: Checkpoint) -> None:
        heard.append(checkpoint)
        raise RuntimeError("witness unreachable")

    anchor = LedgerAnchor(CheckpointLog(tmp_path / "cp"), tmp_path / "key.pem", witness=witness)
    checkpoint = _filled(engine, anchor).checkpoint()
    assert heard == [checkpoint]
    assert anchor.view(anchor.scope_for(engine), "audit").newest == checkpoint
