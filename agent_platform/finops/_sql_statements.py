"""The budget stores' SQL, built once with bind parameters and executed with plain values.

A month replay makes tens of thousands of reserve/commit calls; building a fresh SQLAlchemy
statement with literal values on every call (and letting SQLAlchemy derive a cache key from every
literal) cost more CPU than the database work itself. These statements are constructed once per
process, are immutable, and take their values as execution parameters, so each call only binds
values to an already-compiled statement.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from agent_platform.finops.tables import budget_counters, budget_reservations, spend_records

__all__ = [
    "DAY_SPEND",
    "EXPIRED",
    "FINISH",
    "INSERT_RESERVATION",
    "INSERT_SPEND",
    "MARK_LATE",
    "MONTH_SPEND",
    "RECLAIM_BATCH",
    "RESERVATION_STATUS",
    "TOKEN_SPEND",
    "WRITE_COUNTER",
    "lock_or_create",
]

RECLAIM_BATCH = 200
_c = budget_counters.c
_r = budget_reservations.c

WRITE_COUNTER = (
    budget_counters.update()
    .where(_c.window_key == sa.bindparam("b_key"))
    .values(
        limit_value=sa.bindparam("b_limit"),
        committed=sa.bindparam("b_committed"),
        reserved=sa.bindparam("b_reserved"),
        updated_at=sa.bindparam("b_now"),
    )
)
"""Set one counter's values; executed with one parameter set per window (executemany)."""

FINISH = (
    budget_reservations.update()
    .where(_r.id == sa.bindparam("b_id"), _r.status == "active")
    .values(status=sa.bindparam("b_status"), settled_at=sa.bindparam("b_now"))
)
"""Settle (or expire) a reservation that is still active; rowcount 0 when it was not."""

MARK_LATE = (
    budget_reservations.update().where(_r.id == sa.bindparam("b_id")).values(status="late_commit")
)
RESERVATION_STATUS = sa.select(_r.status).where(_r.id == sa.bindparam("b_id"))
EXPIRED = (
    sa.select(_r.id, _r.window_keys)
    .where(_r.status == "active", _r.expires_at < sa.bindparam("b_now"))
    .order_by(_r.id)
    .limit(RECLAIM_BATCH)
)
"""Active reservations past their expiry, at most :data:`RECLAIM_BATCH` per transaction."""
INSERT_RESERVATION = budget_reservations.insert()
_s = spend_records.c
DAY_SPEND = sa.select(sa.func.sum(_s.amount_eur)).where(_s.day_key == sa.bindparam("b_key"))
MONTH_SPEND = sa.select(sa.func.sum(_s.amount_eur)).where(_s.month_key == sa.bindparam("b_key"))
TOKEN_SPEND = sa.select(sa.func.sum(_s.prompt_tokens + _s.completion_tokens)).where(
    _s.day_key == sa.bindparam("b_day"),
    _s.provider == sa.bindparam("b_provider"),
    _s.recorded_at >= sa.bindparam("b_start"),
    _s.recorded_at < sa.bindparam("b_end"),
)
"""Tokens a provider settled in a token window; ``b_day`` (the window's local day) lets the
``day_key`` index narrow the scan to one day of spend rows."""
INSERT_SPEND = spend_records.insert()


def _lock_or_create(dialect: Any) -> Any:
    statement = dialect.insert(budget_counters)
    return statement.on_conflict_do_update(
        index_elements=[_c.window_key],
        set_={"updated_at": statement.excluded.updated_at},
    ).returning(*budget_counters.c)


_LOCK_OR_CREATE = {"postgresql": _lock_or_create(postgresql), "sqlite": _lock_or_create(sqlite)}


def lock_or_create(dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` over ``budget_counters``.

    Executed with one parameter set per window (in sorted key order), it creates the counters
    that do not exist yet and row-locks every one of them in that order, returning their current
    values: the ensure-then-``SELECT ... FOR UPDATE`` pair in one statement. An existing row only
    gets its ``updated_at`` touched (the transaction writes it again anyway).
    """
    return _LOCK_OR_CREATE["postgresql" if dialect_name == "postgresql" else "sqlite"]
