"""Choose and open LangGraph's durable checkpointer for the configured database.

PostgreSQL: LangGraph's ``AsyncPostgresSaver`` over a psycopg pool we own, in its own schema
(``langgraph``) so the library's tables stay out of our Alembic-managed schema and autogenerate
never proposes to drop them; ``setup()`` creates them. SQLite (the embedded default): its
``AsyncSqliteSaver`` in a file next to the database file, for the same reason. Both come as
their :mod:`ledger_gate` subclasses, which write a run's checkpoints only behind its ledger (on
PostgreSQL with a second, autocommit pool in the public schema, over which a run's ledger
entries are committed on the event loop). The run id is the LangGraph thread id, so a run
stopped mid-way resumes from its last checkpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine.url import make_url

from agent_platform.db import is_postgres, is_sqlite, normalize_url
from agent_platform.errors import InvalidInputError, StorageError
from agent_platform.orchestration.ledger_gate import GatedPostgresSaver, GatedSqliteSaver

__all__ = ["CHECKPOINT_SCHEMA", "libpq_url", "open_checkpointer", "sqlite_checkpoint_path"]

CHECKPOINT_SCHEMA = "langgraph"


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a plain libpq connection string."""
    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def sqlite_checkpoint_path(url: str) -> Path:
    """Where the SQLite checkpointer keeps its tables for the database at ``url``."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInputError(f"database url {url!r}: a file-backed SQLite database is required")
    path = Path(database)
    return path.with_name(path.stem + ".checkpoints.sqlite3")


async def _ensure_schema(conninfo: str) -> None:
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{CHECKPOINT_SCHEMA}"')
    except psycopg.errors.UniqueViolation:
        return  # a concurrent process created it first
    except psycopg.Error as exc:
        raise StorageError(f"creating the checkpoint schema failed: {exc}") from exc


@asynccontextmanager
async def _postgres(url: str, max_size: int) -> AsyncIterator[Any]:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    conninfo = libpq_url(url)
    await _ensure_schema(conninfo)
    kwargs = {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "options": f"-c search_path={CHECKPOINT_SCHEMA}",
    }
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs=kwargs, open=False
    )
    ledger_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=False
    )
    try:
        await pool.open(wait=True, timeout=30)
        await ledger_pool.open(wait=True, timeout=30)
        saver = GatedPostgresSaver(pool)
        saver.ledger_connect = ledger_pool.connection
        saver.ledger_url = normalize_url(url)
        await saver.setup()
        yield saver
    except psycopg.Error as exc:
        raise StorageError(f"PostgreSQL checkpointer failed: {exc}") from exc
    finally:
        await ledger_pool.close()
        await pool.close()


@asynccontextmanager
async def _sqlite(url: str) -> AsyncIterator[Any]:
    import aiosqlite

    path = sqlite_checkpoint_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), timeout=30)
    try:
        saver = GatedSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


@asynccontextmanager
async def open_checkpointer(url: str, *, max_size: int = 4) -> AsyncIterator[Any]:
    """The durable checkpointer for the database at ``url`` (PostgreSQL or SQLite)."""
    if is_postgres(normalize_url(url)):
        async with _postgres(url, max_size) as saver:
            yield saver
    elif is_sqlite(url):
        async with _sqlite(url) as saver:
            yield saver
    else:
        raise InvalidInputError(f"database url {url!r}: allowed: postgresql:// or sqlite:///FILE")
