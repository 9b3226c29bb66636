"""FinOps failure handling: database errors become one-line StorageErrors, the factory never
leaks an engine, and a reservation outlives a retried provider call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import yaml
from sqlalchemy.engine import Engine

from agent_platform.config import Settings, project_root
from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError, StorageError
from agent_platform.finops import factory
from agent_platform.finops._store import Hold
from agent_platform.finops.config import TTL_MARGIN_S, load_finops, min_reservation_ttl_s
from agent_platform.finops.factory import open_store
from agent_platform.finops.guardrails import FinOpsBudget
from agent_platform.finops.redis_store import RedisBudgetStore
from agent_platform.finops.windows import WindowCalendar
from agent_platform.models.config import load_routing

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


@pytest.fixture
def tableless(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database without the budget tables: every statement fails."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    yield engine
    engine.dispose()


def _one_line_driver_error(error: StorageError) -> None:
    text = str(error)
    assert "\n" not in text and "OperationalError" in text and "no such table" in text
    assert "SELECT" not in text and "[SQL:" not in text  # no statement or parameters


def test_transaction_failures_are_one_line(tableless: Engine) -> None:
    routing = load_routing()
    finops = load_finops(routing=routing)
    budget = FinOpsBudget(finops, routing, open_store(tableless, finops))
    with pytest.raises(StorageError) as caught:
        budget.reserve("openai", "gpt-4o", "coding", 100, now=NOW)
    _one_line_driver_error(caught.value)


def test_counter_reads_are_translated(tableless: Engine) -> None:
    routing = load_routing()
    finops = load_finops(routing=routing)
    budget = FinOpsBudget(finops, routing, open_store(tableless, finops))
    with pytest.raises(StorageError) as caught:
        budget.get_remaining_budget(now=NOW)
    _one_line_driver_error(caught.value)


def test_redis_counter_rebuild_translates_the_sql_read(
    tableless: Engine, redis_url: str, redis_prefix: str
) -> None:
    finops = load_finops(routing=load_routing())
    client = redis.Redis.from_url(redis_url)
    calendar = WindowCalendar(finops.timezone, finops.token_window)
    store = RedisBudgetStore(client, tableless, calendar, prefix=redis_prefix)
    hold = Hold(calendar.day_key(NOW), Decimal("0.01"), Decimal(450))
    try:
        with pytest.raises(StorageError) as caught:
            store._hydrate(hold)
    finally:
        client.close()
    _one_line_driver_error(caught.value)
    assert caught.value.__cause__ is not None


def test_the_factory_disposes_the_engine_when_a_later_step_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disposed: list[Engine] = []
    real = factory.create_engine_for

    def tracking(url: str) -> Engine:
        engine = real(url)
        dispose = engine.dispose
        monkeypatch.setattr(engine, "dispose", lambda: (disposed.append(engine), dispose()))
        return engine

    monkeypatch.setattr(factory, "create_engine_for", tracking)
    settings = Settings(
        root=project_root(),
        database_url=f"sqlite:///{tmp_path / 'f.sqlite3'}",
        redis_url="not-a-redis-scheme://nowhere",
        data_dir=tmp_path,
    )
    with pytest.raises(ValueError, match="scheme"):
        factory.budget_from_settings(settings)
    assert len(disposed) == 1


def _finops_with_ttl(tmp_path: Path, ttl: float) -> Path:
    data = yaml.safe_load((project_root() / "policies/finops.yaml").read_text())
    data["reservation_ttl_s"] = ttl
    path = tmp_path / "finops.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_hold_must_outlive_a_retried_call_plus_a_margin(tmp_path: Path) -> None:
    routing = load_routing()
    timeout = routing.failover.request_timeout_s
    floor = min_reservation_ttl_s(timeout)
    assert floor == 2 * timeout + TTL_MARGIN_S
    # More than one timeout (the old rule) but not two plus the margin: refused.
    with pytest.raises(ConfigError) as caught:
        load_finops(routing=routing, path=_finops_with_ttl(tmp_path, floor))
    assert caught.value.key == "reservation_ttl_s" and caught.value.value == floor
    assert load_finops(routing=routing, path=_finops_with_ttl(tmp_path, floor + 1))
