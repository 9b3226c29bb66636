"""Which ledgers a database holds: for ``ledger list``, for verifying them all, and for "did
you mean" when a name matches none.

A ledger exists when it has entries or a recorded head; both are read, so a ledger whose
entries were deleted but whose head row survived still shows up (and fails verification).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.state.tables import ledger_entries, ledger_heads

__all__ = ["LedgerSummary", "closest", "ledger_exists", "list_ledgers"]


@dataclass(frozen=True)
class LedgerSummary:
    """One ledger as ``ledger list`` shows it."""

    name: str
    entries: int
    head_seq: int | None
    head_hash: str | None
    last_append: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "last_append": self.last_append.isoformat() if self.last_append else None,
        }


def list_ledgers(engine: Engine) -> list[LedgerSummary]:
    """Every ledger with entries or a recorded head, sorted by name."""
    entry = ledger_entries.c
    counts = sa.select(entry.ledger, sa.func.count(), sa.func.max(entry.created_at)).group_by(
        entry.ledger
    )
    heads = sa.select(
        ledger_heads.c.ledger,
        ledger_heads.c.head_seq,
        ledger_heads.c.head_hash,
        ledger_heads.c.updated_at,
    )
    try:
        with engine.connect() as conn:
            counted = {r[0]: (int(r[1]), r[2]) for r in conn.execute(counts)}
            recorded = {r[0]: (int(r[1]), str(r[2]), r[3]) for r in conn.execute(heads)}
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error("listing ledgers", exc) from exc
    summaries = []
    for name in sorted(counted.keys() | recorded.keys()):
        entries, last_entry = counted.get(name, (0, None))
        head = recorded.get(name)
        summaries.append(
            LedgerSummary(
                name=name,
                entries=entries,
                head_seq=head[0] if head else None,
                head_hash=head[1] if head else None,
                last_append=last_entry or (head[2] if head else None),
            )
        )
    return summaries


def ledger_exists(engine: Engine, name: str) -> bool:
    """True when ``name`` has entries or a recorded head."""
    has_head = sa.select(ledger_heads.c.ledger).where(ledger_heads.c.ledger == name)
    has_entry = sa.select(ledger_entries.c.seq).where(ledger_entries.c.ledger == name).limit(1)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(has_head).first() is not None
                or conn.execute(has_entry).first() is not None
            )
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error(f"looking up ledger {name!r}", exc) from exc


def closest(name: str, known: list[str], limit: int = 3) -> list[str]:
    """The known names most like ``name`` (difflib's ratio of at least 0.5), best first."""
    return difflib.get_close_matches(name, known, n=limit, cutoff=0.5)
