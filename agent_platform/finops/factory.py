"""Build a :class:`FinOpsBudget` on the backend the settings (or the caller) choose.

A Redis client selects the Redis store (spend still persisted through the SQL engine); without
one, the engine's dialect selects PostgreSQL row locks or SQLite's write lock. The caller owns the
engine and the client it passes in; :func:`budget_from_settings` builds both from the
environment and hands back a closer for them.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from sqlalchemy.engine import Engine

from agent_platform.config import Settings
from agent_platform.db import create_engine_for, is_postgres
from agent_platform.events import EventSink
from agent_platform.finops._store import BudgetStore
from agent_platform.finops.config import load_finops
from agent_platform.finops.guardrails import Clock, FinOpsBudget
from agent_platform.finops.postgres_store import PostgresBudgetStore
from agent_platform.finops.redis_store import RedisBudgetStore, require_no_eviction
from agent_platform.finops.sqlite_store import SqliteBudgetStore
from agent_platform.finops.windows import WindowCalendar
from agent_platform.models.config import load_routing
from agent_platform.schemas.finops import FinOpsConfig

__all__ = ["budget_from_settings", "open_store"]


def open_store(
    engine: Engine,
    finops: FinOpsConfig,
    *,
    redis_client: redis.Redis | None = None,
    redis_prefix: str = "ap:",
) -> BudgetStore:
    """The store for ``engine`` (and ``redis_client`` when given).

    A Redis that may evict keys is refused here (:class:`StorageError`), before any money moves.
    """
    if redis_client is not None:
        require_no_eviction(redis_client)
        calendar = WindowCalendar(finops.timezone, finops.token_window)
        return RedisBudgetStore(redis_client, engine, calendar, prefix=redis_prefix)
    if is_postgres(engine):
        return PostgresBudgetStore(engine)
    return SqliteBudgetStore(engine)


def budget_from_settings(
    settings: Settings | None = None,
    *,
    phase: int | None = None,
    clock: Clock | None = None,
    sink: EventSink | None = None,
    redis_prefix: str = "ap:",
) -> tuple[FinOpsBudget, Callable[[], None]]:
    """A budget on the environment's backends, and the function that closes them."""
    settings = settings or Settings.from_env()
    routing = load_routing(settings)
    finops = load_finops(settings, routing)
    engine = create_engine_for(settings.effective_database_url)
    client: redis.Redis | None = None

    def close() -> None:
        if client is not None:
            client.close()
        engine.dispose()

    try:
        client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
        store = open_store(engine, finops, redis_client=client, redis_prefix=redis_prefix)
        budget = FinOpsBudget(finops, routing, store, phase=phase, clock=clock, sink=sink)
    except BaseException:
        close()
        raise
    return budget, close
