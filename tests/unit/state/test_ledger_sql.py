"""The ledger's SQL statements are built once per dialect and shared by every ledger."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agent_platform.state.ledger.sql import ledger_statements_for
from agent_platform.state.ledger_replay import Ledger


def test_statements_are_built_once_per_dialect_and_shared() -> None:
    first, second = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    postgres = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert ledger_statements_for(first) is ledger_statements_for(second)
    assert Ledger(first, "a")._sql is Ledger(second, "b")._sql
    on_postgres = ledger_statements_for(postgres)
    assert on_postgres is not ledger_statements_for(first)
    assert on_postgres.append_next is not None and ledger_statements_for(first).append_next is None
    for engine in (first, second, postgres):
        engine.dispose()


def test_an_unsupported_dialect_is_refused() -> None:
    mock = sa.create_mock_engine("mysql://", executor=lambda *_a, **_k: None)
    with pytest.raises(ValueError, match="mysql"):
        ledger_statements_for(mock)  # type: ignore[arg-type]
