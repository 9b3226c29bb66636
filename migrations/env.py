"""Alembic environment: runs migrations against the configured database.

Tables that libraries create for themselves (LangGraph's checkpoint tables, Alembic's own version
table) are not ours to manage, so ``include_object`` hides them from autogenerate; a test keeps
the autogenerate diff empty.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from agent_platform.config import Settings
from agent_platform.db import create_engine_for, load_all_tables

EXTERNAL_TABLES = frozenset(
    {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations", "writes"}
)

target_metadata = load_all_tables()


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Skip tables owned by LangGraph's checkpointers; they migrate themselves."""
    if type_ == "table" and name is not None and reflected and compare_to is None:
        return name not in EXTERNAL_TABLES
    return True


def _url() -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    return configured or Settings.from_env().effective_database_url


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine_for(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
