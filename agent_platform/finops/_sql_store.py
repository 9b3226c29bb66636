"""Budget counters in SQL: the logic PostgreSQL and SQLite share.

Every operation is one transaction that first locks the counter rows it touches, in sorted key
order (so two transactions can never wait on each other in a cycle), then reads, checks and
writes them with Decimal arithmetic in Python. Expired reservations found on the way are
reclaimed in the same transaction. Subclasses only say how to lock: PostgreSQL with ``SELECT ...
FOR UPDATE``, SQLite with ``BEGIN IMMEDIATE`` (one writer at a time for the whole file).
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
from agent_platform.finops._sql_common import (
    decode_holds,
    encode_holds,
    insert_alert,
    insert_ignore,
    insert_spend,
    money,
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
from agent_platform.finops.tables import budget_counters, budget_reservations

__all__ = ["SqlBudgetStore"]

_RECLAIM_BATCH = 200


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
            keys = {h.window_key for h in reservation.holds}
            keys.update(k for e in expired for k, _ in e.holds)
            self._ensure(conn, reservation.holds, now)
            usage = self._lock(conn, sorted(keys))
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
            conn.execute(budget_reservations.insert().values(**_reservation_values(reservation)))
            return ReserveOutcome(None, usage)

    def settle(
        self,
        reservation: Reservation | None,
        charges: Sequence[Hold],
        spend: SpendRow,
        now: datetime,
    ) -> SettleOutcome:
        holds = reservation.holds if reservation is not None else ()
        keys = sorted({h.window_key for h in charges} | {h.window_key for h in holds})
        with self._txn() as conn:
            self._ensure(conn, charges, now)
            usage = self._lock(conn, keys)
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
        with self.engine.connect() as conn:
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
        table = budget_reservations
        done = conn.execute(
            table.update()
            .where(table.c.id == reservation.id, table.c.status == "active")
            .values(status=status, settled_at=now)
        )
        if done.rowcount == 1:
            for hold in reservation.holds:
                current = usage[hold.window_key]
                usage[hold.window_key] = replace(current, reserved=current.reserved - hold.amount)
            return True
        found = conn.execute(sa.select(table.c.status).where(table.c.id == reservation.id))
        previous = found.scalar()
        if previous is None:
            raise ReservationError(f"reservation {reservation.id} is unknown")
        if previous != "expired":
            raise ReservationError(f"reservation {reservation.id} is already {previous}")
        if status == "committed":
            conn.execute(
                table.update().where(table.c.id == reservation.id).values(status="late_commit")
            )
        return False

    def _expired(self, conn: Connection, now: datetime) -> list[_Expired]:
        table = budget_reservations
        rows = conn.execute(
            sa.select(table.c.id, table.c.window_keys)
            .where(table.c.status == "active", table.c.expires_at < now)
            .order_by(table.c.id)
            .limit(_RECLAIM_BATCH)
        )
        return [_Expired(row.id, decode_holds(row.window_keys)) for row in rows]

    def _reclaim(
        self,
        conn: Connection,
        expired: list[_Expired],
        usage: dict[str, WindowUsage],
        now: datetime,
    ) -> int:
        table = budget_reservations
        count = 0
        for item in expired:
            done = conn.execute(
                table.update()
                .where(table.c.id == item.id, table.c.status == "active")
                .values(status="expired", settled_at=now)
            )
            if done.rowcount != 1:
                continue
            count += 1
            for key, amount in item.holds:
                current = usage[key]
                usage[key] = replace(current, reserved=max(Decimal(0), current.reserved - amount))
        return count

    def _ensure(self, conn: Connection, holds: Sequence[Hold], now: datetime) -> None:
        for hold in sorted(holds, key=lambda h: h.window_key):
            conn.execute(
                insert_ignore(conn, budget_counters).values(
                    window_key=hold.window_key,
                    kind=hold.window_key.split(":", 1)[0],
                    limit_value=hold.limit,
                    committed=0,
                    reserved=0,
                    updated_at=now,
                )
            )

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
        for key in sorted(usage):
            item = usage[key]
            conn.execute(
                budget_counters.update()
                .where(budget_counters.c.window_key == key)
                .values(
                    limit_value=item.limit,
                    committed=item.committed,
                    reserved=item.reserved,
                    updated_at=now,
                )
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
