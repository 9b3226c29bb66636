"""What signed checkpoints prove about a ledger, and how a new one is signed.

**Judging** (:func:`judge`): the walk along the chain (:mod:`.scan`) is compared with the
trusted checkpoints of the ledger (:class:`~.anchor.AnchorView`):

* ``missing``: a checkpoint exists, the database holds no entry of the ledger at all;
* ``truncated``: the chain is intact but ends below the newest checkpoint's seq (whether or
  not the recorded head was moved back with it);
* ``head_rewound``: the entries are still there, the recorded head was moved below the newest
  checkpoint;
* ``rewritten``: an entry at a checkpointed seq has another hash than the one signed, so the
  chain was rewritten between the newest checkpoint that still matches and that one;
* and each checkpoint that cannot be trusted (see :class:`~.anchor.Problem`).

What this cannot see: anything before the ledger's first checkpoint, and a consistent rewrite
of entries after its newest checkpoint (only the chain itself vouches for those; the next
checkpoint is signed only after the chain from the previous one is walked again).

**Signing** (:func:`take_checkpoint`): the chain is walked from the newest trusted checkpoint
(or the genesis) to the head, and only if every link holds is the head signed, so a checkpoint
never blesses a chain it has not seen intact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.errors import AgentPlatformError, LedgerIntegrityError
from agent_platform.state.ledger.anchor import AnchorView, LedgerAnchor
from agent_platform.state.ledger.chain import GENESIS_HASH
from agent_platform.state.ledger.checkpoints import Checkpoint
from agent_platform.state.ledger.scan import Scan, scan_chain
from agent_platform.state.tables import ledger_heads

_log = logging.getLogger(__name__)

__all__ = ["ANCHORED_KINDS", "Finding", "anchor_summary", "judge", "take_checkpoint"]

ANCHORED_KINDS = frozenset({"missing", "truncated", "head_rewound", "rewritten"})


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a ledger: its kind, the first seq concerned (None for a
    checkpoint problem) and a sentence for the user."""

    kind: str
    seq: int | None
    text: str

    def order(self) -> tuple[int, int, int]:
        """Lowest seq first; at one seq the anchored finding (more specific) first; checkpoint
        problems last."""
        if self.seq is None:
            return (1, 0, 0)
        return (0, self.seq, 0 if self.kind in ANCHORED_KINDS else 1)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "text": self.text}


def _signed(checkpoint: Checkpoint) -> str:
    return f"the checkpoint signed at {checkpoint.time} for seq {checkpoint.seq}"


def _rewritten(checkpoints: tuple[Checkpoint, ...], walk: Scan) -> Finding | None:
    """The first checkpoint the walk reached whose hash differs, bracketed by the newest
    earlier one that matches."""
    matched = 0
    for checkpoint in checkpoints:
        if checkpoint.seq > walk.last_seq:
            break
        held = walk.hash_at(checkpoint.seq)
        if held == checkpoint.hash:
            matched = checkpoint.seq
            continue
        return Finding(
            "rewritten",
            matched + 1,
            f"chain rewritten since seq {matched + 1}: {_signed(checkpoint)} holds hash "
            f"{checkpoint.hash[:16]}..., the ledger now holds {(held or '?')[:16]}... there",
        )
    return None


def judge(view: AnchorView, walk: Scan, head_seq: int) -> list[Finding]:
    """Findings from comparing ``walk`` (before any head check) with ``view``."""
    findings = [Finding(p.kind, None, p.text) for p in view.problems]
    newest = view.newest
    if newest is None:
        return findings
    if walk.bad_seq is None and walk.last_seq == 0:
        text = f"ledger missing: {_signed(newest)} exists, the database holds no entry of it"
        return [Finding("missing", 1, text), *findings]
    rewritten = _rewritten(view.checkpoints, walk)
    if rewritten is not None:
        findings.append(rewritten)
    if walk.bad_seq is None and walk.last_seq < newest.seq:
        moved = f"; its recorded head was moved back to seq {head_seq}" if head_seq else ""
        text = f"truncated below {_signed(newest)}: the ledger ends at seq {walk.last_seq}{moved}"
        findings.append(Finding("truncated", walk.last_seq + 1, text))
    elif walk.bad_seq is None and head_seq < newest.seq:
        text = f"head rewound: the recorded head is seq {head_seq}, below {_signed(newest)}"
        findings.append(Finding("head_rewound", head_seq + 1, text))
    return findings


def anchor_summary(view: AnchorView, last_seq: int) -> dict[str, Any]:
    """What the checkpoints covered, for reports: how many, the newest, and what is after it."""
    newest = view.newest
    return {
        "checkpoints": len(view.checkpoints),
        "problems": len(view.problems),
        "key_id": view.key_id,
        "newest_seq": newest.seq if newest is not None else None,
        "newest_time": newest.time if newest is not None else None,
        "unanchored_after_seq": newest.seq if newest is not None else 0,
        "entries_after_newest": max(0, last_seq - (newest.seq if newest is not None else 0)),
    }


def _read_head(engine: Engine, ledger: str) -> tuple[int, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ledger_heads.c.head_seq, ledger_heads.c.head_hash).where(
                ledger_heads.c.ledger == ledger
            )
        ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _check_extends(
    engine: Engine, ledger: str, base: Checkpoint | None, head: tuple[int, str]
) -> None:
    """Raise LedgerIntegrityError unless the chain runs intact from ``base`` to ``head``."""
    start = (base.seq, base.hash) if base is not None else (0, GENESIS_HASH)
    if head[0] < start[0]:
        what = f"the head is seq {head[0]}, below {_signed(base)}" if base else "no head"
        raise LedgerIntegrityError(head[0] + 1, f"head rewound: {what}")
    if head[0] == start[0]:
        if head[1] != start[1]:
            raise LedgerIntegrityError(head[0], "rewritten: the head differs from its checkpoint")
        return
    with engine.connect() as conn:
        walk = scan_chain(conn, ledger, start=start, upto=head[0])
    if walk.bad_seq is not None:
        raise LedgerIntegrityError(walk.bad_seq, walk.reason or "tampered")
    if walk.last_seq != head[0] or walk.last_hash != head[1]:
        raise LedgerIntegrityError(walk.last_seq + 1, "the chain does not reach the head")


def take_checkpoint(
    engine: Engine, ledger: str, anchor: LedgerAnchor, head: tuple[int, str] | None = None
) -> Checkpoint | None:
    """Sign ``head`` of ``ledger`` (default: the recorded head) after walking the chain to it
    from the newest trusted checkpoint; returns that checkpoint when the head has not moved
    since, None for a ledger with no entry.

    Raises:
        LedgerIntegrityError: the chain does not run intact from the checkpoint to the head.
        StorageError: the database failed. ConfigError / InputFileError: the key.
    """
    scope = anchor.scope_for(engine)
    base = anchor.view(scope, ledger).newest
    try:
        head = head or _read_head(engine, ledger)
        if head is None or head[0] == 0:
            if base is not None:
                raise LedgerIntegrityError(1, f"ledger missing: {_signed(base)} exists")
            return None
        _check_extends(engine, ledger, base, head)
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"reading ledger {ledger!r} to checkpoint it", exc) from exc
    if base is not None and base.seq == head[0]:
        return base
    return anchor.sign(scope, ledger, head)


def checkpoint_when_due(
    engine: Engine, ledger: str, anchor: LedgerAnchor, moved: tuple[int, int, str]
) -> None:
    """After an append moved the head from ``moved[0]`` to ``moved[1]`` (hash ``moved[2]``):
    sign it when it crossed a multiple of ``anchor.every``.

    The entries are committed whatever happens here, so a failure is logged, not raised:
    verification reports what the checkpoint could not vouch for.
    """
    old_seq, new_seq, new_hash = moved
    if not anchor.due(old_seq, new_seq):
        return
    try:
        take_checkpoint(engine, ledger, anchor, (new_seq, new_hash))
    except (AgentPlatformError, OSError) as exc:
        _log.warning("ledger %r: no checkpoint at seq %d: %s", ledger, new_seq, exc)
