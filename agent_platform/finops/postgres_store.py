"""Budget counters on PostgreSQL: ``SELECT ... FOR UPDATE`` on the windows a request touches.

Rows are locked in sorted key order, so concurrent reservations from any number of processes
serialise per window without deadlocks; windows nobody else touches stay concurrent.
"""

from __future__ import annotations

from agent_platform.finops._sql_store import SqlBudgetStore

__all__ = ["PostgresBudgetStore"]


class PostgresBudgetStore(SqlBudgetStore):
    """Row-locking store for PostgreSQL engines."""

    backend = "postgresql"
    _for_update = True
