"""Sensors: budget thresholds on the persisted spend, and failed gate checks.

Both are built by small factories and publish through the notification publisher (the durable
outbox), so an alert commits even when no receiver is up; the dispatcher delivers it later.

- the **budget sensor** reads the committed spend of today and this month from the budget
  store, and publishes ``budget.threshold`` once per window when spend crosses each level
  (the policy's alert threshold, e.g. 80 %, and 100 %). Its cursor remembers, per window, the
  highest level already announced, so a level fires once per window however often it ticks;
- the **check-failure sensor** looks at the latest evaluation of each gate check and publishes
  ``evidence.check_failed`` once for every new failed one.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    DagsterInstance,
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from agent_platform.config import Settings
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.guardrails import BudgetStatus, WindowStatus
from agent_platform.models.config import load_routing
from jobs.resources import DatabaseResource, NotificationResource, RedisResource

__all__ = [
    "BudgetCrossing",
    "CheckFailure",
    "budget_crossings",
    "build_budget_sensor",
    "build_check_failure_sensor",
    "new_failures",
]

BUDGET_EVENT = "budget.threshold"
CHECK_EVENT = "evidence.check_failed"


@dataclass(frozen=True)
class BudgetCrossing:
    """One window that crossed a level it had not announced yet."""

    window: str
    level: float
    spent_eur: Decimal
    cap_eur: Decimal

    def payload(self) -> dict[str, object]:
        return {
            "window": self.window,
            "level_percent": round(self.level * 100, 2),
            "spent_eur": str(self.spent_eur),
            "cap_eur": str(self.cap_eur),
            "ratio": round(float(self.spent_eur / self.cap_eur), 6) if self.cap_eur else None,
        }


def budget_crossings(
    status: BudgetStatus, levels: Sequence[float], announced: dict[str, float]
) -> tuple[list[BudgetCrossing], dict[str, float]]:
    """New crossings of ``levels`` by the day and month windows, and the updated cursor.

    Only the highest newly crossed level of a window is announced; windows that are no longer
    current drop out of the cursor.
    """
    crossings: list[BudgetCrossing] = []
    cursor: dict[str, float] = {}
    for window in (status.day, status.month):
        previous = announced.get(window.key, 0.0)
        reached = _highest_level(window, levels)
        if reached > previous:
            crossings.append(BudgetCrossing(window.key, reached, window.committed, window.cap))
        cursor[window.key] = max(previous, reached)
    return crossings, cursor


def _highest_level(window: WindowStatus, levels: Sequence[float]) -> float:
    if window.cap <= 0:
        return 0.0
    ratio = window.committed / window.cap
    return max((lvl for lvl in levels if ratio >= Decimal(str(lvl))), default=0.0)


def _budget_status(
    database: DatabaseResource, redis: RedisResource
) -> tuple[BudgetStatus, tuple[float, float]]:
    """Today's and this month's committed spend, and the levels to announce (threshold, 100 %)."""
    settings = Settings.from_env()
    routing = load_routing(settings)
    finops = load_finops(settings, routing)
    store = open_store(database.engine, finops, redis_client=redis.client)
    status = FinOpsBudget(finops, routing, store).get_remaining_budget()
    return status, (float(finops.alerts.threshold_percent) / 100.0, 1.0)


def build_budget_sensor(
    name: str = "budget_threshold_sensor", minimum_interval_seconds: int = 300
) -> SensorDefinition:
    """The budget sensor; levels come from ``policies/finops.yaml`` (threshold and 100 %)."""

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.STOPPED,
        description="Publishes budget.threshold once per window at the alert threshold and at 100 %.",
    )
    def _budget_sensor(
        context: SensorEvaluationContext,
        database: DatabaseResource,
        redis: RedisResource,
        notifications: NotificationResource,
    ) -> SensorResult | SkipReason:
        status, levels = _budget_status(database, redis)
        announced = json.loads(context.cursor) if context.cursor else {}
        crossings, cursor = budget_crossings(status, levels, announced)
        publisher = notifications.publisher(database.engine)
        for crossing in crossings:
            notification_id = publisher.publish(BUDGET_EVENT, crossing.payload())
            context.log.info(f"{crossing.window} crossed {crossing.level:.0%}: {notification_id}")
        encoded = json.dumps(cursor, sort_keys=True)
        if not crossings:
            context.update_cursor(encoded)
            return SkipReason(
                f"no new crossing (day {status.day.committed}, month {status.month.committed} EUR)"
            )
        return SensorResult(cursor=encoded)

    return _budget_sensor


@dataclass(frozen=True)
class CheckFailure:
    """One new failed evaluation of a gate check, in the run that produced it."""

    key: AssetCheckKey
    run_id: str
    evaluation: AssetCheckEvaluation

    @property
    def check(self) -> str:
        return self.key.to_user_string()

    def payload(self) -> dict[str, object]:
        return {
            "asset": self.key.asset_key.to_user_string(),
            "check": self.key.name,
            "run_id": self.run_id,
            "metadata": {k: str(v.value) for k, v in self.evaluation.metadata.items()},
        }


def new_failures(
    instance: DagsterInstance, keys: Sequence[AssetCheckKey], seen: dict[str, int]
) -> list[CheckFailure]:
    """The failed evaluations of ``keys`` newer than ``seen``; ``seen`` is advanced in place to
    the latest evaluation record of every check, failed or not."""
    failures = []
    for key in keys:
        record = instance.get_latest_asset_check_evaluation_record(key)
        name = key.to_user_string()
        if record is None or record.id <= seen.get(name, -1):
            continue
        seen[name] = record.id
        event = record.event.dagster_event if record.event else None
        data = event.event_specific_data if event else None
        if isinstance(data, AssetCheckEvaluation) and not data.passed:
            failures.append(CheckFailure(key, record.run_id, data))
    return failures


def build_check_failure_sensor(
    check_keys: Sequence[AssetCheckKey],
    name: str = "gate_check_failure_sensor",
    minimum_interval_seconds: int = 60,
) -> SensorDefinition:
    """The sensor that notifies once for each new failed evaluation of ``check_keys``.

    The cursor maps each check to the id of the last evaluation record it looked at (the
    latest-evaluation API works on every event-log storage, run-sharded SQLite included).
    """
    keys = list(check_keys)

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.STOPPED,
        description="Publishes evidence.check_failed for each failed asset check.",
    )
    def _check_failure_sensor(
        context: SensorEvaluationContext,
        database: DatabaseResource,
        notifications: NotificationResource,
    ) -> SensorResult | SkipReason:
        seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        failures = new_failures(context.instance, keys, seen)
        cursor = json.dumps(seen, sort_keys=True)
        if not failures:
            context.update_cursor(cursor)
            return SkipReason("no new failed check evaluations")
        publisher = notifications.publisher(database.engine)
        for failure in failures:
            publisher.publish(CHECK_EVENT, failure.payload(), correlation_id=failure.run_id)
            context.log.info(f"notified failed check {failure.check} of run {failure.run_id}")
        return SensorResult(cursor=cursor)

    return _check_failure_sensor
