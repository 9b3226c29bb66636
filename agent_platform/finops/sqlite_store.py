"""Budget counters on the embedded SQLite file: ``BEGIN IMMEDIATE`` serialises writers.

SQLite has no row locks; taking the database write lock at the start of each budget transaction
makes check-and-hold atomic across every process sharing the file (WAL and the busy timeout set
by :func:`agent_platform.db.create_engine_for` make them wait rather than fail).
"""

from __future__ import annotations

from agent_platform.finops._sql_store import SqlBudgetStore

__all__ = ["SqliteBudgetStore"]


class SqliteBudgetStore(SqlBudgetStore):
    """Write-lock-first store for SQLite engines."""

    backend = "sqlite"
    _immediate = True
