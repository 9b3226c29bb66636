"""Budget counters in Redis: one Lua script checks every cap and holds atomically.

Redis is the admission authority for reservations (sub-millisecond, shared by every process);
SQL stays the source of truth for money: every settled call is written to ``spend_records``
right after its Lua commit, and a counter Redis does not have (first use, or Redis lost its data)
is rebuilt from ``spend_records`` before it is used. A commit is applied to Redis first and then
persisted, so if the SQL write fails the Redis counters over-count (never under-count) and the
caps stay safe; the failure is raised as :class:`StorageError`, never swallowed.

The counters and held reservations must never be evicted: an evicted counter is rebuilt from SQL
without the reservations in flight, and an evicted reservation frees money a caller is about to
spend. :func:`require_no_eviction` refuses a Redis that may evict under memory pressure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy.engine import Engine

from agent_platform.errors import ReservationError, StorageError
from agent_platform.finops import _redis_lua as lua
from agent_platform.finops._sql_common import insert_alert, insert_spend, reading, transaction
from agent_platform.finops._sql_common import window_committed as sql_window_committed
from agent_platform.finops._store import (
    AlertRow,
    Hold,
    Reservation,
    ReserveOutcome,
    SettleOutcome,
    SpendRow,
    WindowUsage,
)
from agent_platform.finops.pricing import MICRO
from agent_platform.finops.windows import WindowCalendar

__all__ = ["RedisBudgetStore", "require_no_eviction"]

_SCALE = Decimal(1_000_000)
_MAX_HYDRATIONS = 8
_DAY_MS = 86_400_000


def require_no_eviction(client: redis.Redis) -> None:
    """Raise :class:`StorageError` unless ``client``'s server keeps every key under pressure.

    Redis evicts only with a ``maxmemory`` limit set and a policy other than ``noeviction``;
    without a limit (``maxmemory`` 0) no policy ever applies. ``INFO memory`` is read rather
    than ``CONFIG GET`` because managed Redis services often disable ``CONFIG``.
    """
    try:
        info = client.info("memory")
    except redis.RedisError as exc:
        raise StorageError(f"budget store (redis): cannot read INFO memory: {exc}") from exc
    limit = int(info.get("maxmemory", 0) or 0)
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if limit > 0 and policy != "noeviction":
        raise StorageError(
            f"budget store (redis): maxmemory-policy is {policy!r} with maxmemory {limit} bytes; "
            "allowed: 'noeviction' (or no maxmemory limit), because an evicted counter or "
            "reservation would let spend pass the caps"
        )


def _units(value: Decimal) -> str:
    return str(int((value * _SCALE).to_integral_value()))


def _from_units(value: Any) -> Decimal:
    return (Decimal(int(value)) / _SCALE).quantize(MICRO)


class RedisBudgetStore:
    """Lua-scripted counters in Redis; spend and alerts persisted through ``engine``."""

    backend = "redis"

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        calendar: WindowCalendar,
        *,
        prefix: str = "ap:",
    ) -> None:
        self.client = client
        self.engine = engine
        self.calendar = calendar
        self.prefix = f"{prefix}{{finops}}:"
        self._active = self.prefix + "active"
        self._reserve = client.register_script(lua.RESERVE)
        self._commit = client.register_script(lua.COMMIT)
        self._release = client.register_script(lua.RELEASE)
        self._sweep = client.register_script(lua.SWEEP)

    def _ctr(self, window_key: str) -> str:
        return self.prefix + "ctr:" + window_key

    def _res(self, reservation_id: str) -> str:
        return self.prefix + "res:" + reservation_id

    def reserve(self, reservation: Reservation, now: datetime) -> ReserveOutcome:
        holds = reservation.holds
        amounts = [(_units(hold.amount), _units(hold.limit)) for hold in holds]
        flat: list[str] = []
        for hold, (amount, _) in zip(holds, amounts, strict=True):
            flat += [hold.window_key, amount]
        expires = _ms(reservation.expires_at)
        args: list[Any] = [
            _ms(now),
            self.prefix,
            reservation.id,
            expires,
            json.dumps(flat, separators=(",", ":")),
        ]
        for amount, limit in amounts:
            args += [amount, limit]
        args.append(expires - _ms(reservation.created_at) + _DAY_MS)
        keys = [self._active, self._res(reservation.id)] + [self._ctr(h.window_key) for h in holds]
        reply = self._run_hydrating(self._reserve, keys, args, {h.window_key: h for h in holds})
        if reply[0] == "refused":
            key = reply[1].removeprefix(self.prefix + "ctr:")
            usage = WindowUsage(
                key, _from_units(reply[4]), _from_units(reply[2]), _from_units(reply[3])
            )
            return ReserveOutcome(key, {key: usage})
        return ReserveOutcome(None, {})

    def settle(
        self,
        reservation: Reservation | None,
        charges: Sequence[Hold],
        spend: SpendRow,
        now: datetime,
    ) -> SettleOutcome:
        rid = reservation.id if reservation is not None else ""
        keys = [self._active, self._res(rid or "none")] + [self._ctr(c.window_key) for c in charges]
        args: list[Any] = [_ms(now), self.prefix, rid, "1" if reservation is not None else "0"]
        args += [_units(c.amount) for c in charges]
        reply = self._run_hydrating(self._commit, keys, args, {c.window_key: c for c in charges})
        if reply[0] == "settled":
            raise ReservationError(f"reservation {rid} is already {reply[1]}")
        usage: dict[str, WindowUsage] = {}
        for index, charge in enumerate(charges):
            committed, reserved, limit = reply[2 + 3 * index : 5 + 3 * index]
            usage[charge.window_key] = WindowUsage(
                charge.window_key,
                _from_units(limit),
                _from_units(committed),
                _from_units(reserved),
            )
        with transaction(self.engine) as conn:
            insert_spend(conn, spend)
        return SettleOutcome(reply[1] == "1", usage)

    def release(self, reservation: Reservation, now: datetime) -> bool:
        keys = [self._active, self._res(reservation.id)]
        reply = self._call(self._release, keys, [_ms(now), self.prefix, reservation.id])
        status = reply[0]
        if status == "ok":
            return True
        if status == "expired":
            return False
        if status == "unknown":
            raise ReservationError(f"reservation {reservation.id} is unknown")
        raise ReservationError(f"reservation {reservation.id} is already {status}")

    def sweep(self, now: datetime) -> int:
        return int(self._call(self._sweep, [self._active], [_ms(now), self.prefix]))

    def usage(self, keys: Sequence[str]) -> dict[str, WindowUsage]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(self._ctr(key), "committed", "reserved", "limit")
            rows = pipe.execute()
        except redis.RedisError as exc:
            raise StorageError(f"budget store (redis): {exc}") from exc
        found: dict[str, WindowUsage] = {}
        for key, (committed, reserved, limit) in zip(keys, rows, strict=True):
            if committed is not None:
                found[key] = WindowUsage(
                    key, _from_units(limit or 0), _from_units(committed), _from_units(reserved)
                )
        return found

    def record_alert(self, alert: AlertRow, sink: Any) -> bool:
        with transaction(self.engine) as conn:
            return insert_alert(conn, alert, sink)

    def close(self) -> None:
        """The caller owns the Redis client and the engine; nothing to close here."""
        return None

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            reply = script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StorageError(f"budget store (redis): {exc}") from exc
        if isinstance(reply, list):
            return [item.decode() if isinstance(item, bytes) else item for item in reply]
        return reply

    def _run_hydrating(
        self, script: Any, keys: list[str], args: list[Any], holds: dict[str, Hold]
    ) -> list[Any]:
        for _ in range(_MAX_HYDRATIONS):
            reply: list[Any] = self._call(script, keys, args)
            if reply[0] != "missing":
                return reply
            self._hydrate(holds[reply[1].removeprefix(self.prefix + "ctr:")])
        raise StorageError("budget store (redis): counters vanished while being rebuilt")

    def _hydrate(self, hold: Hold) -> None:
        """Create a missing counter from the spend SQL already holds for its window."""
        with reading(self.engine) as conn:
            committed = sql_window_committed(conn, hold.window_key, self.calendar)
        # Redis expires keys in real time, whatever clock the budget runs on (replays).
        end = self.calendar.span(hold.window_key).end
        ttl = max(end - datetime.now(UTC), timedelta(0)) + timedelta(days=2)
        key = self._ctr(hold.window_key)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hsetnx(key, "committed", _units(committed))
            pipe.hsetnx(key, "reserved", "0")
            pipe.hsetnx(key, "limit", _units(hold.limit))
            pipe.pexpire(key, int(ttl.total_seconds() * 1000))
            pipe.execute()
        except redis.RedisError as exc:
            raise StorageError(f"budget store (redis): {exc}") from exc


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
