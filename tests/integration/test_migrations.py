"""Migrations: up and down on both databases, and autogenerate finds nothing to change.

The autogenerate check uses the very ``include_object`` filter of ``migrations/env.py`` (read
from that file, since importing env.py would run the migrations) and creates LangGraph's own
checkpoint tables first, to show they are filtered and not proposed for dropping.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from agent_platform.config import project_root
from agent_platform.db import create_engine_for, load_all_tables, normalize_url
from agent_platform.migrate import downgrade, upgrade

OUR_TABLES = {table.name for table in load_all_tables().sorted_tables}


def _env_filter() -> Callable[..., bool]:
    source = (project_root() / "migrations" / "env.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    keep = [
        node
        for node in tree.body
        if (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "EXTERNAL_TABLES" for t in node.targets)
        )
        or (isinstance(node, ast.FunctionDef) and node.name == "include_object")
    ]
    assert len(keep) == 2, "migrations/env.py must define EXTERNAL_TABLES and include_object"
    namespace: dict[str, Any] = {"Any": Any}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "env.py", "exec"), namespace)
    return namespace["include_object"]  # type: ignore[no-any-return]


def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _diff(url: str) -> list[Any]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": _env_filter(), "compare_type": True}
            )
            return list(compare_metadata(context, load_all_tables()))
    finally:
        engine.dispose()


def _langgraph_tables(url: str, sqlite_path: Path | None) -> None:
    if sqlite_path is not None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(str(sqlite_path)) as saver:
            saver.setup()
        return
    from langgraph.checkpoint.postgres import PostgresSaver

    libpq = normalize_url(url).replace("postgresql+psycopg://", "postgresql://")
    with PostgresSaver.from_conn_string(libpq) as saver:
        saver.setup()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path | None]:
    if request.param == "sqlite":
        path = tmp_path / "fresh.sqlite3"
        return f"sqlite:///{path}", path
    return str(request.getfixturevalue("empty_pg_url")), None


def test_upgrade_then_downgrade(empty_url: tuple[str, Path | None]) -> None:
    url, _ = empty_url
    upgrade(url)
    assert _tables(url) >= OUR_TABLES
    downgrade(url, "001")
    assert {"sessions", "state_audit", "state_hash_index"} <= _tables(url)
    assert "ledger_entries" not in _tables(url)
    downgrade(url, "base")
    assert not (OUR_TABLES & _tables(url))
    upgrade(url)
    assert _tables(url) >= OUR_TABLES


def test_autogenerate_is_empty_with_langgraph_tables(empty_url: tuple[str, Path | None]) -> None:
    url, sqlite_path = empty_url
    upgrade(url)
    _langgraph_tables(url, sqlite_path)
    assert "checkpoints" in _tables(url)
    assert _diff(url) == []


def test_filter_hides_only_library_tables() -> None:
    include = _env_filter()
    assert include(None, "checkpoints", "table", True, None) is False
    assert include(None, "sessions", "table", True, None) is True
    assert include(None, "some_stray_table", "table", True, None) is True
