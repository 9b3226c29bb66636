"""Fresh databases per test: a migrated PostgreSQL database cloned from a template, or a
migrated SQLite file under ``tmp_path``. Each test gets its own, so helpers and parallel runs
never see each other's rows."""

from __future__ import annotations

import os
import threading
import uuid

import sqlalchemy as sa
from sqlalchemy.engine.url import make_url

from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "AGENT_PLATFORM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("AGENT_PLATFORM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_template_lock = threading.Lock()
_template_name: str | None = None


def _admin_engine() -> sa.Engine:
    return create_engine_for(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


def _url_for(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def _migrated_template() -> str:
    global _template_name
    with _template_lock:
        if _template_name is None:
            name = f"ap_tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            engine = _admin_engine()
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            upgrade(_url_for(name))
            _template_name = name
        return _template_name


def create_pg_database(migrated: bool = True) -> tuple[str, str]:
    """Create a fresh database; returns (name, url)."""
    name = f"ap_t_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{template}'))
    engine.dispose()
    return name, _url_for(name)


def drop_pg_database(name: str) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def drop_template() -> None:
    global _template_name
    with _template_lock:
        if _template_name is not None:
            drop_pg_database(_template_name)
            _template_name = None
