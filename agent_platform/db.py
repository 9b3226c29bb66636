"""SQLAlchemy engine factory and the one ``MetaData`` every table hangs on.

The same code runs on PostgreSQL (production) and a SQLite file (the embedded default). SQLite
gets WAL, a busy timeout and foreign keys so that several processes can share the file the way
they share a PostgreSQL server. Engines are built by :func:`create_engine_for`, never at import.

Note on SQLite isolation: pysqlite starts a transaction only at the first write, so a read inside
``engine.begin()`` is not isolated from a concurrent writer. Code that must read-then-write
atomically on SQLite says so explicitly (the budget store issues ``BEGIN IMMEDIATE``); the ledger
relies on its primary key and the head compare-and-set instead.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

__all__ = [
    "TABLE_MODULES",
    "create_engine_for",
    "is_postgres",
    "is_sqlite",
    "load_all_tables",
    "metadata",
    "normalize_url",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Every module that defines tables on ``metadata``; Alembic's env and the autogenerate test
# import them all so the comparison sees the whole schema.
TABLE_MODULES: tuple[str, ...] = (
    "agent_platform.state.tables",
    "agent_platform.finops.tables",
    "agent_platform.notifications.tables",
)


def load_all_tables() -> sa.MetaData:
    """Import every table module and return the populated metadata."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return metadata


def normalize_url(url: str) -> str:
    """Map plain ``postgresql://`` URLs to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """True for the embedded SQLite backend (a URL or an engine)."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def is_postgres(engine_or_url: Engine | str) -> bool:
    """True for a PostgreSQL backend (a URL or an engine)."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the per-backend settings this project relies on."""
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30, "check_same_thread": False}
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
