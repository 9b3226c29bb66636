"""Sensors, tested with build_sensor_context and instance_for_test on a real database."""

import json
from pathlib import Path

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    SensorResult,
    asset,
    asset_check,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from agent_platform.db import create_engine_for
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing
from agent_platform.notifications.tables import outbox
from jobs.resources import DatabaseResource, NotificationResource, RedisResource
from jobs.sensors import build_budget_sensor, build_check_failure_sensor


def _notifications(tmp_path: Path) -> NotificationResource:
    config = tmp_path / "notifications.yaml"
    config.write_text(
        "security:\n  allow_cidrs: ['127.0.0.1/32']\n"
        "destinations:\n  - name: finops-slack\n    type: slack\n    url: http://127.0.0.1:9/slack\n"
    )
    return NotificationResource(config_path=str(config))


def _outbox(url: str, event_type: str) -> list[dict[str, object]]:
    engine = create_engine_for(url)
    with engine.connect() as conn:
        rows = (
            conn.execute(sa.select(outbox).where(outbox.c.event_type == event_type))
            .mappings()
            .all()
        )
    engine.dispose()
    return [dict(r) for r in rows]


def _spend(url: str, completion_tokens: int) -> None:
    routing = load_routing()
    finops = load_finops(None, routing)
    engine = create_engine_for(url)
    budget = FinOpsBudget(finops, routing, open_store(engine, finops))
    budget.record_spend("anthropic", "claude-3-5-sonnet-20241022", "coding", 0, completion_tokens)
    engine.dispose()


def test_budget_sensor_fires_once_per_crossing(sqlite_url: str, tmp_path: Path) -> None:
    sensor = build_budget_sensor()
    resources = {
        "database": DatabaseResource(url=sqlite_url),
        "redis": RedisResource(),
        "notifications": _notifications(tmp_path),
    }
    with instance_for_test() as instance:

        def tick(cursor: str | None) -> str | None:
            with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
                result = sensor(ctx)
            return result.cursor if isinstance(result, SensorResult) else cursor

        cursor = tick(None)
        assert _outbox(sqlite_url, "budget.threshold") == []
        _spend(sqlite_url, 28_000_000)  # about 80 % of the daily cap
        cursor = tick(cursor)
        cursor = tick(cursor)
        first = _outbox(sqlite_url, "budget.threshold")
        assert len(first) == 1
        assert json.loads(str(first[0]["payload"]))["level_percent"] == 80.0
        _spend(sqlite_url, 8_000_000)  # past 100 %
        cursor = tick(cursor)
        tick(cursor)
        levels = sorted(
            json.loads(str(r["payload"]))["level_percent"]
            for r in _outbox(sqlite_url, "budget.threshold")
        )
        assert levels == [80.0, 100.0]


@asset
def probe() -> None:
    return None


@asset_check(asset=probe)
def probe_is_good() -> AssetCheckResult:
    return AssetCheckResult(passed=False, metadata={"measured": 2, "threshold": "< 1"})


def test_check_failure_sensor_notifies_each_failed_check_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    sensor = build_check_failure_sensor([probe_is_good.check_key])
    resources = {
        "database": DatabaseResource(url=sqlite_url),
        "notifications": _notifications(tmp_path),
    }
    with instance_for_test() as instance:
        materialize([probe, probe_is_good], instance=instance, raise_on_error=False)
        with build_sensor_context(instance=instance, resources=resources) as ctx:
            result = sensor(ctx)
        assert isinstance(result, SensorResult)
        with build_sensor_context(
            instance=instance, cursor=result.cursor, resources=resources
        ) as ctx:
            again = sensor(ctx)
        assert not isinstance(again, SensorResult)
    rows = _outbox(sqlite_url, "evidence.check_failed")
    assert len(rows) == 1
    assert json.loads(str(rows[0]["payload"]))["check"] == "probe_is_good"
