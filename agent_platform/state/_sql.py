"""SQL statements of the state repository, built once per dialect (no I/O here).

Upserts use ``INSERT ... ON CONFLICT`` on both PostgreSQL and SQLite, through SQLAlchemy Core
(no ORM on the hot path). Statements are compiled once by SQLAlchemy's cache and reused. The
one statement of a single save on PostgreSQL is also compiled once to psycopg's own SQL text
(:class:`DriverStatement`): the save runs it on the pooled connection directly, because going
through SQLAlchemy's execution cost more CPU than the statement's own round trip (measured
with cProfile by bench/state_fabric.py's save).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Delete, Insert

from agent_platform.state.tables import sessions, state_audit, state_hash_index

__all__ = ["DriverStatement", "StateStatements", "statements_for"]


@dataclass(frozen=True)
class DriverStatement:
    """A statement as psycopg's SQL text (``%(name)s`` parameters), with the values that
    SQLAlchemy would have bound by itself (``fixed``: literals of the statement)."""

    text: str
    fixed: Mapping[str, Any]

    @classmethod
    def psycopg(cls, statement: Insert) -> DriverStatement:
        compiled = statement.compile(dialect=PGDialect_psycopg())
        fixed = {k: v for k, v in compiled.params.items() if v is not None}
        return cls(compiled.string, MappingProxyType(fixed))


@dataclass(frozen=True)
class StateStatements:
    """Every statement the repository executes, for one dialect."""

    upsert_session: Insert
    index_hash: Insert
    audit: Insert
    select_one: sa.Select[str, str]
    select_many: sa.Select[str, str, str]
    select_all: sa.Select[str, str, str]
    delete_one: Delete
    save_one: Insert | None
    """PostgreSQL only: the three writes of one save as a single statement (one round trip)."""
    save_one_driver: DriverStatement | None = None
    """PostgreSQL only: ``save_one`` compiled for psycopg."""


def _insert_for(engine: Engine, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database dialect {engine.dialect.name!r}")


def _save_one_postgres() -> Insert:
    """``WITH saved AS (upsert), indexed AS (insert) INSERT INTO state_audit ...``.

    PostgreSQL runs every data-modifying CTE to completion, so this is the same three writes
    as the generic path, in one statement and one network round trip.
    """
    sid: sa.BindParameter[str] = sa.bindparam("sid")
    digest: sa.BindParameter[str] = sa.bindparam("h")
    now: sa.BindParameter[datetime] = sa.bindparam("now")
    upsert = postgresql.insert(sessions).values(
        id=sid, payload=sa.bindparam("p"), payload_hash=digest, updated_at=now
    )
    saved = (
        upsert.on_conflict_do_update(
            index_elements=[sessions.c.id],
            set_={
                "payload": upsert.excluded.payload,
                "payload_hash": upsert.excluded.payload_hash,
                "updated_at": upsert.excluded.updated_at,
            },
        )
        .returning(sessions.c.id)
        .cte("saved")
    )
    indexed = (
        postgresql.insert(state_hash_index)
        .values(hash=digest, session_id=sid, created_at=now)
        .on_conflict_do_nothing()
        .returning(state_hash_index.c.hash)
        .cte("indexed")
    )
    return (
        sa.insert(state_audit)
        .values(session_id=sid, action="save", payload_hash=digest, timestamp=now)
        .add_cte(saved)
        .add_cte(indexed)
    )


def statements_for(engine: Engine) -> StateStatements:
    """Build the statements for ``engine``'s dialect (PostgreSQL or SQLite)."""
    upsert = _insert_for(engine, sessions)
    upsert_session = upsert.on_conflict_do_update(
        index_elements=[sessions.c.id],
        set_={
            "payload": upsert.excluded.payload,
            "payload_hash": upsert.excluded.payload_hash,
            "updated_at": upsert.excluded.updated_at,
        },
    )
    index_hash = _insert_for(engine, state_hash_index).on_conflict_do_nothing(
        index_elements=[state_hash_index.c.hash, state_hash_index.c.session_id]
    )
    columns = (sessions.c.id, sessions.c.payload, sessions.c.payload_hash)
    save_one = _save_one_postgres() if engine.dialect.name == "postgresql" else None
    return StateStatements(
        upsert_session=upsert_session,
        index_hash=index_hash,
        audit=sa.insert(state_audit),
        select_one=sa.select(sessions.c.payload, sessions.c.payload_hash).where(
            sessions.c.id == sa.bindparam("sid")
        ),
        select_many=sa.select(*columns).where(
            sessions.c.id.in_(sa.bindparam("ids", expanding=True))
        ),
        select_all=sa.select(*columns).order_by(sessions.c.id),
        delete_one=sa.delete(sessions).where(sessions.c.id == sa.bindparam("sid")),
        save_one=save_one,
        save_one_driver=DriverStatement.psycopg(save_one) if save_one is not None else None,
    )
