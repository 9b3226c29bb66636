"""Verification of one ledger: the chain, the head recorded beside it, and signed checkpoints.

Inside the database the chain is checked link by link (:mod:`.scan`) and compared with the
head recorded in ``ledger_heads``: edits, deletions, reorderings, forks and truncation below
the recorded head are found and named by their first bad seq. Someone who can write SQL can
also rewrite the chain *and* that head consistently; what catches them is the head anchored
outside the database (:mod:`.anchor`), which :mod:`.anchoring` compares with the walk.

Every finding has a ``kind``: ``chain`` (the chain or its recorded head), or one of the
anchored kinds ``missing``, ``truncated``, ``head_rewound``, ``rewritten``, or a checkpoint
problem (``checkpoint_invalid``, ``key_mismatch``, ``key_missing``, ``checkpoint_unreadable``).
The first finding (lowest seq; anchored before chain at the same seq, checkpoint problems
last) is the verification's ``reason``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.errors import LedgerIntegrityError
from agent_platform.state.ledger.anchor import AnchorView
from agent_platform.state.ledger.anchoring import Finding, anchor_summary, judge
from agent_platform.state.ledger.chain import GENESIS_HASH
from agent_platform.state.ledger.scan import Scan, scan_chain
from agent_platform.state.tables import ledger_heads

__all__ = ["Finding", "LedgerVerification", "verify_ledger"]


@dataclass(frozen=True)
class LedgerVerification:
    """The outcome of verifying one ledger.

    Attributes:
        ok: True when the chain is intact, ends at the recorded head and agrees with every
            signed checkpoint (and no checkpoint of it is in doubt).
        entries_checked: entries hashed before the pass ended.
        last_seq: the highest sequence number read intact (0 for an empty ledger).
        recorded_head_seq: the head recorded by appends (0 when none was recorded).
        first_bad_seq: the first sequence number that is wrong, or None.
        reason: what is wrong, or None.
        elapsed_s: wall time of the pass.
        kind: the kind of the first finding (see the module docstring), or None.
        findings: every finding, first one first.
        anchor: what the signed checkpoints said (None when no anchor was consulted).
    """

    ledger: str
    ok: bool
    entries_checked: int
    last_seq: int
    recorded_head_seq: int
    first_bad_seq: int | None
    reason: str | None
    elapsed_s: float
    kind: str | None = None
    findings: tuple[Finding, ...] = ()
    anchor: dict[str, Any] | None = None

    def raise_for_failure(self) -> None:
        """Raise :class:`LedgerIntegrityError` naming the first finding, if any."""
        if not self.ok:
            raise LedgerIntegrityError(self.first_bad_seq or 0, self.reason or "tampered")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "ledger": self.ledger,
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "last_seq": self.last_seq,
            "recorded_head_seq": self.recorded_head_seq,
            "first_bad_seq": self.first_bad_seq,
            "kind": self.kind,
            "reason": self.reason,
            "findings": [f.as_dict() for f in self.findings],
            "anchor": self.anchor,
            "elapsed_s": self.elapsed_s,
        }


def _check_head(scan: Scan, head: tuple[int, str]) -> Scan:
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
    if head_seq > 0 and scan.hash_at(head_seq) != head_hash:
        return scan.failed(head_seq, "fork: entry at the recorded head has a different hash")
    return scan


def _recorded_head(conn: sa.Connection, ledger: str) -> tuple[int, str]:
    """(head_seq, head_hash); (0, GENESIS_HASH) when nothing was appended yet."""
    row = conn.execute(
        sa.select(ledger_heads.c.head_seq, ledger_heads.c.head_hash).where(
            ledger_heads.c.ledger == ledger
        )
    ).first()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def _walk_and_head(
    engine: Engine, ledger: str, watch: frozenset[int]
) -> tuple[Scan, tuple[int, str]]:
    """The walk, and the recorded head it is compared with.

    The head is read before the entries, so appends that commit during the pass show up as
    entries beyond the head; the head is then read again, and only entries that are still
    beyond it count as tampering.
    """
    with engine.connect() as conn:
        head = _recorded_head(conn, ledger)
        conn.commit()
        walk = scan_chain(conn, ledger, watch=watch | {head[0]})
        conn.commit()
        if walk.bad_seq is None and walk.last_seq > head[0]:
            head = _recorded_head(conn, ledger)
            if head[0] > walk.last_seq:
                # Appended after the pass ended: check the chain up to what was read.
                head = (walk.last_seq, walk.last_hash)
    return walk, head


def verify_ledger(
    engine: Engine, ledger: str, anchor: AnchorView | None = None
) -> LedgerVerification:
    """Verify ``ledger`` from its first entry to its recorded head, and against ``anchor``'s
    signed checkpoints when given (read before the entries, so a checkpoint signed during
    the pass cannot look like a truncation)."""
    start = time.perf_counter()
    watch = frozenset(c.seq for c in anchor.checkpoints) if anchor is not None else frozenset()
    try:
        walk, head = _walk_and_head(engine, ledger, watch)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading ledger {ledger!r} for verification", exc) from exc
    scan = _check_head(walk, head) if walk.bad_seq is None else walk
    findings: list[Finding] = []
    if scan.bad_seq is not None:
        findings.append(Finding("chain", scan.bad_seq, scan.reason or "tampered"))
    if anchor is not None:
        findings.extend(judge(anchor, walk, head[0]))
    findings.sort(key=Finding.order)
    first = findings[0] if findings else None
    return LedgerVerification(
        ledger=ledger,
        ok=first is None,
        entries_checked=scan.checked,
        last_seq=scan.last_seq,
        recorded_head_seq=head[0],
        first_bad_seq=first.seq if first is not None else None,
        reason=first.text if first is not None else None,
        elapsed_s=time.perf_counter() - start,
        kind=first.kind if first is not None else None,
        findings=tuple(findings),
        anchor=anchor_summary(anchor, scan.last_seq) if anchor is not None else None,
    )
