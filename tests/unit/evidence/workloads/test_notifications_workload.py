"""The notification workload on the shipped config, with a heavy fault mix, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.evidence.formats.notifications import figures as delivery_figures
from agent_platform.evidence.formats.notifications import write
from agent_platform.evidence.workloads.notifications import (
    FaultMix,
    NotificationPlan,
    deliver,
    loopback_config,
)
from agent_platform.notifications import load_notifications_config


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


def test_loopback_config_moves_only_the_addresses() -> None:
    shipped = load_notifications_config()
    moved = loopback_config(shipped, "http://127.0.0.1:1/hook", "http://127.0.0.1:1/slack", 25)
    assert moved.retry == shipped.retry and moved.circuit == shipped.circuit
    assert moved.dispatcher == shipped.dispatcher
    assert [d.name for d in moved.destinations] == [d.name for d in shipped.destinations]
    assert all(d.enabled for d in moved.destinations)
    assert [d.timeout_s for d in moved.destinations] == [d.timeout_s for d in shipped.destinations]
    assert moved.security.allow_cidrs == ["127.0.0.1/32"]


def test_faults_are_retried_refusals_are_not_and_the_receivers_decide(
    engine: Engine, tmp_path: Path
) -> None:
    shipped = load_notifications_config()
    mix = FaultMix(http_rate=0.4, smtp_rate=0.4, seed=3)
    plan = NotificationPlan(events=15, time_scale=0.02, interval_s=0.2, faults=mix)
    delivery = deliver(engine, shipped, plan)
    assert delivery.published_pairs == 15 * len(shipped.destinations)
    path = tmp_path / "log.csv"
    write(path, delivery.rows)
    found = delivery_figures(path)
    refused = int(found["receiver_refused_pairs"])
    assert found["delivery_success_rate_all_pairs__n"] == delivery.published_pairs
    assert found["delivery_success_rate__n"] == delivery.published_pairs - refused
    assert found["delivery_success_rate"] == 1.0 and found["correlation_id_coverage"] == 1.0
    assert int(found["attempts"]) > delivery.published_pairs  # faults were retried
    assert any(r.receiver_fault and r.status == "retrying" for r in delivery.rows)
    refused_pairs = {r.notification_id for r in delivery.rows if r.receiver_refused}
    assert len(refused_pairs) == refused
    for nid in refused_pairs:
        attempts = sorted(
            (r for r in delivery.rows if r.notification_id == nid and r.channel == "email"),
            key=lambda r: r.attempt,
        )
        # A 554 ends the pair: it is the last attempt, and nothing is retried after it.
        assert attempts[-1].status == "failed" and attempts[-1].receiver_fault == "554"
        assert all(r.status == "retrying" for r in attempts[:-1])
    declared = plan.declared(shipped)
    assert declared["config"]["retry"]["max_attempts"] == shipped.retry.max_attempts
    assert declared["fault_mix"]["smtp_kinds"] == ["451", "554", "drop", "timeout"]
