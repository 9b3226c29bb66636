"""Budget counters in SQL: the logic PostgreSQL and SQLite share.

Every operation is one transaction that first locks the counter rows it touches, in sorted key
order (so two transactions can never wait on each other in a cycle), then reads, checks and
writes them with Decimal arithmetic in Python. Expired reservations found on the way are
reclaimed in the same transaction. Subclasses only say how to lock: PostgreSQL with row locks,
SQLite with ``BEGIN IMMEDIATE`` (one writer at a time for the whole file).

Reserve and commit lock their windows with one upsert (create the missing counters and lock all
of them, in sorted order, returning their values) and write them back with one executemany
UPDATE, so a reserve+commit pair is about eight statements, all precompiled
(:mod:`agent_platform.finops._sql_statements`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform.errors import ReservationError
from agent_platform.finops import _sql_statements as sql
from agent_platform.finops._sql_common import (
    decode_holds,
    encode_holds,
    insert_alert,
    insert_spend,
    money,
    reading,
    transaction,
)
from agent_platform.finops._store import (
    AlertRow,
    Hold,
    Reservation,
    ReserveOutcome,
    SettleOutcome,
    SpendRow,
    WindowUsage,
)
from agent_platform.finops.tables import budget_counters

__all__ = ["SqlBudgetStore"]


@dataclass(frozen=True)
class _Expired:
    id: str
    holds: list[tuple[str, Decimal]]


class SqlBudgetStore:
    """Shared implementation; use :class:`PostgresBudgetStore` or :class:`SqliteBudgetStore`."""

    backend = "sql"
    _immediate = False
    _for_update = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _txn(self) -> Iterator[Connection]:
        with transaction(self.engine, immediate=self._immediate) as conn:
            yield conn

    def reserve(self, reservation: Reservation, now: datetime) -> ReserveOutcome:
        with self._txn() as conn:
            expired = self._expired(conn, now)
            limits = {h.window_key: h.limit for h in reservation.holds}
            for item in expired:
                for key, _ in item.holds:
                    limits.setdefault(key, Decimal(0))
            usage = self._lock_or_create(conn, limits, now)
            self._reclaim(conn, expired, usage, now)
            for hold in reservation.holds:
                current = usage[hold.window_key]
                if (
                    hold.amount > 0
                    and current.committed + current.reserved + hold.amount > hold.limit
                ):
                    self._write(conn, usage, now)
                    return ReserveOutcome(hold.window_key, usage)
            for hold in reservation.holds:
                current = usage[hold.window_key]
                usage[hold.window_key] = replace(
                    current, limit=hold.limit, reserved=current.reserved + hold.amount
                )
            self._write(conn, usage, now)
            conn.execute(sql.INSERT_RESERVATION, _reservation_values(reservation))
            return ReserveOutcome(None, usage)

    def settle(
        self,
        reservation: Reservation | None,
        charges: Sequence[Hold],
        spend: SpendRow,
        now: datetime,
    ) -> SettleOutcome:
        limits = {h.window_key: h.limit for h in reservation.holds} if reservation else {}
        limits.update((c.window_key, c.limit) for c in charges if c.window_key not in limits)
        with self._txn() as conn:
            usage = self._lock_or_create(conn, limits, now)
            late = True
            if reservation is not None:
                late = not self._finish(conn, reservation, "committed", usage, now)
            for charge in charges:
                current = usage[charge.window_key]
                usage[charge.window_key] = replace(
                    current, committed=current.committed + charge.amount
                )
            self._write(conn, usage, now)
            insert_spend(conn, spend)
            return SettleOutcome(late, usage)

    def release(self, reservation: Reservation, now: datetime) -> bool:
        with self._txn() as conn:
            usage = self._lock(conn, sorted({h.window_key for h in reservation.holds}))
            released = self._finish(conn, reservation, "released", usage, now)
            self._write(conn, usage, now)
            return released

    def sweep(self, now: datetime) -> int:
        with self._txn() as conn:
            expired = self._expired(conn, now)
            usage = self._lock(conn, sorted({k for e in expired for k, _ in e.holds}))
            count = self._reclaim(conn, expired, usage, now)
            self._write(conn, usage, now)
            conn.execute(
                budget_counters.delete().where(
                    budget_counters.c.window_key.like("tokens:%"),
                    budget_counters.c.reserved == 0,
                    budget_counters.c.updated_at < now - timedelta(days=2),
                )
            )
            return count

    def usage(self, keys: Sequence[str]) -> dict[str, WindowUsage]:
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(budget_counters).where(budget_counters.c.window_key.in_(list(keys)))
            )
            return {row.window_key: _usage(row) for row in rows}

    def record_alert(self, alert: AlertRow, sink: Any) -> bool:
        with self._txn() as conn:
            return insert_alert(conn, alert, sink)

    def close(self) -> None:
        """The caller owns the engine; nothing to close here."""
        return None

    def _finish(
        self,
        conn: Connection,
        reservation: Reservation,
        status: str,
        usage: dict[str, WindowUsage],
        now: datetime,
    ) -> bool:
        """Settle an active reservation (returns True) or accept an expired one (False)."""
        done = conn.execute(sql.FINISH, {"b_id": reservation.id, "b_status": status, "b_now": now})
        if done.rowcount == 1:
            for hold in reservation.holds:
                current = usage[hold.window_key]
                usage[hold.window_key] = replace(current, reserved=current.reserved - hold.amount)
            return True
        previous = conn.execute(sql.RESERVATION_STATUS, {"b_id": reservation.id}).scalar()
        if previous is None:
            raise ReservationError(f"reservation {reservation.id} is unknown")
        if previous != "expired":
            raise ReservationError(f"reservation {reservation.id} is already {previous}")
        if status == "committed":
            conn.execute(sql.MARK_LATE, {"b_id": reservation.id})
        return False

    def _expired(self, conn: Connection, now: datetime) -> list[_Expired]:
        rows = conn.execute(sql.EXPIRED, {"b_now": now})
        return [_Expired(row.id, decode_holds(row.window_keys)) for row in rows]

    def _reclaim(
        self,
        conn: Connection,
        expired: list[_Expired],
        usage: dict[str, WindowUsage],
        now: datetime,
    ) -> int:
        count = 0
        for item in expired:
            done = conn.execute(sql.FINISH, {"b_id": item.id, "b_status": "expired", "b_now": now})
            if done.rowcount != 1:
                continue
            count += 1
            for key, amount in item.holds:
                current = usage[key]
                usage[key] = replace(current, reserved=max(Decimal(0), current.reserved - amount))
        return count

    def _lock_or_create(
        self, conn: Connection, limits: dict[str, Decimal], now: datetime
    ) -> dict[str, WindowUsage]:
        """Create the missing counters of ``limits`` and lock all of them, in key order.

        A window a reservation still holds always has its counter (``sweep`` only deletes token
        counters nothing holds), so the limit given for such a key is never inserted.
        """
        params = [
            {
                "window_key": key,
                "kind": key.split(":", 1)[0],
                "limit_value": limits[key],
                "committed": 0,
                "reserved": 0,
                "updated_at": now,
            }
            for key in sorted(limits)
        ]
        rows = conn.execute(sql.lock_or_create(conn.dialect.name), params)
        return {row.window_key: _usage(row) for row in rows}

    def _lock(self, conn: Connection, keys: list[str]) -> dict[str, WindowUsage]:
        if not keys:
            return {}
        query = (
            sa.select(budget_counters)
            .where(budget_counters.c.window_key.in_(keys))
            .order_by(budget_counters.c.window_key)
        )
        if self._for_update:
            query = query.with_for_update()
        return {row.window_key: _usage(row) for row in conn.execute(query)}

    def _write(self, conn: Connection, usage: dict[str, WindowUsage], now: datetime) -> None:
        """Write every counter of ``usage`` back: one executemany UPDATE, in key order."""
        if not usage:
            return
        conn.execute(
            sql.WRITE_COUNTER,
            [
                {
                    "b_key": key,
                    "b_limit": usage[key].limit,
                    "b_committed": usage[key].committed,
                    "b_reserved": usage[key].reserved,
                    "b_now": now,
                }
                for key in sorted(usage)
            ],
        )


def _usage(row: Any) -> WindowUsage:
    return WindowUsage(
        row.window_key, money(row.limit_value), money(row.committed), money(row.reserved)
    )


def _reservation_values(reservation: Reservation) -> dict[str, Any]:
    return {
        "id": reservation.id,
        "provider": reservation.provider,
        "model": reservation.model,
        "task": reservation.task,
        "amount_eur": reservation.amount_eur,
        "tokens": reservation.tokens,
        "window_keys": encode_holds(reservation.holds),
        "status": "active",
        "correlation_id": reservation.correlation_id,
        "created_at": reservation.created_at,
        "expires_at": reservation.expires_at,
    }
