"""SQL statements of the ledger, built once per dialect at import (no I/O here).

The ledger never updates an entry. Its head (``ledger_heads``) is moved with a compare-and-set
``UPDATE ... WHERE head_seq = :old_seq`` in the same transaction as the insert (on PostgreSQL,
for one entry, in the same statement: a data-modifying CTE), and each consumer's replay
position is upserted in ``ledger_consumers``.

The statements are immutable SQLAlchemy constructs, so they are built once per dialect when
this module is imported and shared by every :class:`~.ledger_replay.Ledger` (a graph run opens
one ledger per run; building them cost a fraction of a millisecond each time). Each engine still compiles and
caches them in its own ``compiled_cache``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert, Update

from agent_platform.state.tables import ledger_consumers, ledger_entries, ledger_heads

__all__ = ["LedgerStatements", "ledger_statements_for"]


@dataclass(frozen=True)
class LedgerStatements:
    """Every statement the ledger executes, for one dialect."""

    insert_entries: Insert
    insert_head: Insert
    move_head: Update
    select_head: sa.Select[int, str]
    select_page: sa.Select[int, str, str, str, str, str, datetime]
    select_position: sa.Select[int]
    save_position: Insert
    append_first: Insert | None
    """PostgreSQL only: insert the head row and the first entry in one statement."""
    append_next: Insert | None
    """PostgreSQL only: move the head (compare-and-set) and insert one entry in one statement;
    inserts nothing when the head had moved."""


_ENTRY_COLUMNS = (
    "ledger",
    "seq",
    "event_type",
    "payload",
    "checksum",
    "prev_hash",
    "entry_hash",
    "created_at",
)


def _entry_from(cte: sa.CTE) -> Insert:
    """INSERT one entry (bound as ``e_<column>``) per row of ``cte``, with ``cte`` on top.

    The ``e_`` prefix matters: an UPDATE in the CTE would otherwise pick up parameters named
    like its own columns (``ledger``) as extra SET clauses.
    """
    values = [
        sa.bindparam(f"e_{name}", type_=ledger_entries.c[name].type) for name in _ENTRY_COLUMNS
    ]
    query = sa.select(*values).select_from(cte)
    return (
        sa.insert(ledger_entries)
        .from_select(list(_ENTRY_COLUMNS), query)
        .add_cte(cte)
        .returning(ledger_entries.c.seq)
    )


def _append_first_postgres() -> Insert:
    created = (
        sa.insert(ledger_heads)
        .values(
            ledger=sa.bindparam("b_ledger"),
            head_seq=sa.bindparam("new_seq"),
            head_hash=sa.bindparam("new_hash"),
            updated_at=sa.bindparam("now"),
        )
        .returning(ledger_heads.c.ledger)
        .cte("created")
    )
    return _entry_from(created)


def _append_next_postgres(move_head: Update) -> Insert:
    return _entry_from(move_head.returning(ledger_heads.c.ledger).cte("moved"))


def _save_position(dialect: str) -> Insert:
    """Upsert of one consumer's position in ``ledger_consumers``."""
    upsert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        upsert = postgresql.insert(ledger_consumers)
    elif dialect == "sqlite":
        upsert = sqlite.insert(ledger_consumers)
    else:
        raise ValueError(f"unsupported database dialect {dialect!r}")
    return upsert.on_conflict_do_update(
        index_elements=[ledger_consumers.c.consumer, ledger_consumers.c.ledger],
        set_={"last_seq": upsert.excluded.last_seq, "updated_at": upsert.excluded.updated_at},
    )


def _select_page() -> sa.Select[int, str, str, str, str, str, datetime]:
    """Up to ``:page`` entries of ``:b_ledger`` with ``seq > :after``, in seq order."""
    entry = ledger_entries.c
    return (
        sa.select(
            entry.seq,
            entry.event_type,
            entry.payload,
            entry.checksum,
            entry.prev_hash,
            entry.entry_hash,
            entry.created_at,
        )
        .where(entry.ledger == sa.bindparam("b_ledger"))
        .where(entry.seq > sa.bindparam("after"))
        .order_by(entry.seq)
        .limit(sa.bindparam("page"))
    )


def _build(dialect: str) -> LedgerStatements:
    """Build the ledger statements for ``dialect`` (``postgresql`` or ``sqlite``)."""
    save_position = _save_position(dialect)
    move_head = (
        sa.update(ledger_heads)
        .where(ledger_heads.c.ledger == sa.bindparam("b_ledger"))
        .where(ledger_heads.c.head_seq == sa.bindparam("old_seq"))
        .values(
            head_seq=sa.bindparam("new_seq"),
            head_hash=sa.bindparam("new_hash"),
            updated_at=sa.bindparam("now"),
        )
    )
    postgres = dialect == "postgresql"
    return LedgerStatements(
        insert_entries=sa.insert(ledger_entries),
        insert_head=sa.insert(ledger_heads),
        move_head=move_head,
        select_head=sa.select(ledger_heads.c.head_seq, ledger_heads.c.head_hash).where(
            ledger_heads.c.ledger == sa.bindparam("b_ledger")
        ),
        select_page=_select_page(),
        select_position=sa.select(ledger_consumers.c.last_seq)
        .where(ledger_consumers.c.consumer == sa.bindparam("b_consumer"))
        .where(ledger_consumers.c.ledger == sa.bindparam("b_ledger")),
        save_position=save_position,
        append_first=_append_first_postgres() if postgres else None,
        append_next=_append_next_postgres(move_head) if postgres else None,
    )


_BY_DIALECT = MappingProxyType({name: _build(name) for name in ("postgresql", "sqlite")})
"""The statements of each supported dialect, built once (read-only)."""


def ledger_statements_for(engine: Engine) -> LedgerStatements:
    """The ledger statements for ``engine``'s dialect (PostgreSQL or SQLite), built once.

    Raises:
        ValueError: another dialect.
    """
    dialect = engine.dialect.name
    statements = _BY_DIALECT.get(dialect)
    if statements is None:
        raise ValueError(f"unsupported database dialect {dialect!r}")
    return statements
