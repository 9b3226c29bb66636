"""SQL statements of the ledger, built once per dialect at import (no I/O here).

The ledger never updates an entry. Its head (``ledger_heads``) is moved with a compare-and-set
``UPDATE ... WHERE head_seq = :old_seq`` in the same transaction as the insert (on PostgreSQL,
for a few entries, in the same statement: a data-modifying CTE), and each consumer's replay
position is upserted in ``ledger_consumers``.

The statements are immutable SQLAlchemy constructs, so they are built once per dialect when
this module is imported and shared by every :class:`~agent_platform.state.ledger_replay.Ledger` (a graph run opens
one ledger per run; building them cost a fraction of a millisecond each time). Each engine still compiles and
caches them in its own ``compiled_cache``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert, Update

from agent_platform.state.tables import ledger_consumers, ledger_entries, ledger_heads

__all__ = [
    "CHAIN_COLUMNS",
    "MAX_ONE_STATEMENT",
    "LedgerStatements",
    "entry_param",
    "ledger_statements_for",
]


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
    append_first_rows: tuple[Insert, ...] = ()
    """PostgreSQL only: like ``append_first`` for 1..``MAX_ONE_STATEMENT`` entries (index n-1)."""
    append_next_rows: tuple[Insert, ...] = ()
    """PostgreSQL only: like ``append_next`` for 1..``MAX_ONE_STATEMENT`` entries (index n-1)."""

    _psycopg_sql: dict[tuple[str, int], str] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Memo of :meth:`psycopg_sql` (compiling one statement costs milliseconds)."""

    def one_statement(self, first: bool, count: int) -> Insert | None:
        """The single statement appending ``count`` entries (None: use a transaction)."""
        statements = self.append_first_rows if first else self.append_next_rows
        return statements[count - 1] if 1 <= count <= len(statements) else None

    def psycopg_sql(self, first: bool | None, count: int = 1) -> str | None:
        """SQL text for psycopg (``%(name)s`` parameters) of :meth:`one_statement`, or of
        ``select_head`` when ``first`` is None; None when there is no such statement."""
        key = ("head" if first is None else "first" if first else "next", count)
        text = self._psycopg_sql.get(key)
        if text is None:
            statement = self.select_head if first is None else self.one_statement(first, count)
            if statement is None:
                return None
            text = statement.compile(dialect=PGDialect_psycopg()).string
            self._psycopg_sql[key] = text
        return text


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


MAX_ONE_STATEMENT = 8
"""The most entries a PostgreSQL append writes in one statement (more: a transaction)."""


def entry_param(index: int, column: str) -> str:
    """The bind parameter of ``column`` of the ``index``-th entry (0-based) of an append."""
    return f"e{index}_{column}"


def _entry_from(cte: sa.CTE, count: int = 1) -> Insert:
    """INSERT ``count`` entries (bound as ``e<i>_<column>``) per row of ``cte``, ``cte`` on top.

    The ``e<i>_`` prefix matters: an UPDATE in the CTE would otherwise pick up parameters named
    like its own columns (``ledger``) as extra SET clauses. The CTE yields one row when the
    head moved and none otherwise, so either all ``count`` entries are inserted or none.
    """
    selects = [
        sa.select(
            *(
                sa.bindparam(entry_param(i, name), type_=ledger_entries.c[name].type)
                for name in _ENTRY_COLUMNS
            )
        ).select_from(cte)
        for i in range(count)
    ]
    query = selects[0] if count == 1 else sa.union_all(*selects)
    return (
        sa.insert(ledger_entries)
        .from_select(list(_ENTRY_COLUMNS), query)
        .add_cte(cte)
        .returning(ledger_entries.c.seq)
    )


def _append_first_postgres(count: int = 1) -> Insert:
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
    return _entry_from(created, count)


def _append_next_postgres(move_head: Update, count: int = 1) -> Insert:
    return _entry_from(move_head.returning(ledger_heads.c.ledger).cte("moved"), count)


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


CHAIN_COLUMNS = tuple(
    ledger_entries.c[name]
    for name in ("seq", "event_type", "payload", "checksum", "prev_hash", "entry_hash")
)
"""What hashing and chaining an entry needs, in the order :mod:`.scan` unpacks it."""


def _select_page() -> sa.Select[int, str, str, str, str, str, datetime]:
    """Up to ``:page`` entries of ``:b_ledger`` with ``seq > :after``, in seq order."""
    entry = ledger_entries.c
    return (
        sa.select(*CHAIN_COLUMNS, entry.created_at)
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
    counts = range(1, MAX_ONE_STATEMENT + 1) if postgres else range(0)
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
        append_first_rows=tuple(_append_first_postgres(n) for n in counts),
        append_next_rows=tuple(_append_next_postgres(move_head, n) for n in counts),
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
