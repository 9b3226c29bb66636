"""Notifications end to end: publisher -> outbox -> dispatcher -> real loopback receivers.

Every test runs on SQLite and PostgreSQL where the database matters (``db_url``). Receivers are
real servers on 127.0.0.1 (HTTP and SMTP); faults are injected by the receivers, not mocked.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.errors import DestinationError, InvalidInputError, PayloadError, StorageError
from agent_platform.notifications import (
    Dispatcher,
    DispatchStats,
    NotificationEvent,
    NotificationPublisher,
)
from agent_platform.notifications.ids import as_utc, utc_now
from agent_platform.notifications.tables import delivery_attempts, destination_state, outbox
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import WebhookReceiver, fast_config, new_webhook_secret

SECRET_ENV = "TEST_HOOK_SECRET"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """For tests whose behaviour does not depend on the backend (validation before SQL)."""
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def secret() -> str:
    return new_webhook_secret()


@pytest.fixture
def env(secret: str) -> dict[str, str]:
    return {SECRET_ENV: secret}


@pytest.fixture
def receiver(secret: str) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=secret, unsigned_paths=["/slack"], hang_s=1.0) as rx:
        yield rx


def hook(
    rx: WebhookReceiver, name: str = "hook", path: str = "/hook", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "webhook",
        "url": rx.url(path),
        "secret_env": SECRET_ENV,
        "timeout_s": 2.0,
        **extra,
    }


def drain(engine: Engine, config: NotificationsConfig, env: dict[str, str]) -> DispatchStats:
    with Dispatcher(engine, config, environ=env, rng=random.Random(3)) as dispatcher:
        return dispatcher.run(until_idle=True, max_seconds=90)


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox)).mappings())


def parse_ts(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_delivery_carries_its_correlation_id(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    slack = {"name": "slack", "type": "slack", "url": receiver.url("/slack"), "timeout_s": 2.0}
    config = fast_config([hook(receiver), slack])
    publisher = NotificationPublisher(engine, config, environ=env)
    ids = [
        publisher.publish("run.approved", {"i": i}, correlation_id=f"given-{i}") for i in range(5)
    ]
    ids += [publisher.publish("run.rejected", {"i": i, "trace_id": f"trace-{i}"}) for i in range(5)]
    ids += [publisher.publish("budget.alert", {"i": i, "correlation_id": "n/a"}) for i in range(5)]
    stats = drain(engine, config, env)
    assert stats.delivered == 30
    delivered = receiver.delivered()
    assert len(delivered) == 30
    assert all(r.correlation_id for r in delivered)
    assert all(r.signature_valid for r in delivered if r.path == "/hook")
    statuses = [publisher.get_delivery_status(n) for n in ids]
    assert [s.correlation_id for s in statuses[:10]] == [f"given-{i}" for i in range(5)] + [
        f"trace-{i}" for i in range(5)
    ]
    for status in statuses[10:]:
        assert status.correlation_id is not None
        assert str(uuid.UUID(status.correlation_id)) == status.correlation_id
    by_id = {s.correlation_id for s in statuses}
    assert {r.correlation_id for r in delivered} == by_id
    for status in statuses:
        assert status.delivered and len(status.destinations) == 2
        assert status.attempts[-1].status == "delivered"
        parse_ts(status.created_at or "")
        assert all(parse_ts(a.timestamp) for a in status.attempts)


def test_a_tampered_body_fails_verification_at_the_receiver(
    sqlite_engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    config = fast_config([hook(receiver)])
    NotificationPublisher(sqlite_engine, config, environ=env).publish("run.approved", {"eur": 5})
    drain(sqlite_engine, config, env)
    (original,) = receiver.delivered()
    assert original.signature_valid is True
    signed = {k: v for k, v in original.headers.items() if k.startswith("webhook-")}
    tampered = original.body.replace(b'"eur":5', b'"eur":500')
    assert tampered != original.body
    with httpx.Client() as client:
        replay = client.post(receiver.url(), content=original.body, headers=signed)
        forged = client.post(receiver.url(), content=tampered, headers=signed)
    assert (replay.status_code, forged.status_code) == (200, 401)
    assert [r.signature_valid for r in receiver.requests()] == [True, True, False]


def count_outbox(engine: Engine) -> int:
    """Outbox rows as another connection sees them (only what has committed)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())


def test_outbox_commits_and_rolls_back_with_the_callers_transaction(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    events = sa.Table(
        "caller_events", sa.MetaData(), sa.Column("id", sa.String(64), primary_key=True)
    )
    events.create(engine)
    config = fast_config([hook(receiver)])
    publisher = NotificationPublisher(engine, config, environ=env)
    with engine.connect() as conn:
        with conn.begin() as txn:
            conn.execute(events.insert().values(id="rolled-back"))
            publisher.publish("run.approved", {"x": 1}, connection=conn)
            txn.rollback()
        with conn.begin():
            conn.execute(events.insert().values(id="kept"))
            kept = publisher.publish("run.approved", {"x": 2}, connection=conn)
            batch = publisher.publish_batch(
                [NotificationEvent("run.batch", {"x": n}) for n in (3, 4)], connection=conn
            )
            assert count_outbox(engine) == 0  # not visible before the caller commits
        assert count_outbox(engine) == 3
    with pytest.raises(RuntimeError, match="caller failed"), engine.begin() as conn:
        conn.execute(events.insert().values(id="raised"))
        publisher.publish("run.approved", {"x": 5}, connection=conn)
        raise RuntimeError("caller failed after publishing")
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(events.c.id)).scalars()) == ["kept"]
    assert sorted(r["notification_id"] for r in outbox_rows(engine)) == sorted([kept, *batch])
    drain(engine, config, env)
    delivered = [r.json()["notification_id"] for r in receiver.delivered()]
    assert sorted(delivered) == sorted([kept, *batch])  # rolled-back events never went out


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"payload": {"x": object()}}, PayloadError),
        ({"payload": {"x": float("nan")}}, PayloadError),
        ({"payload": ["not", "a", "mapping"]}, PayloadError),
        ({"payload": {"blob": "x" * 5000}}, PayloadError),
        ({"destinations": ["nowhere"]}, DestinationError),
        ({"destinations": []}, DestinationError),
        ({"event_type": "bad type!"}, InvalidInputError),
        ({"correlation_id": ""}, InvalidInputError),
    ],
)
def test_bad_input_raises_a_typed_error_and_enqueues_nothing(
    sqlite_engine: Engine,
    receiver: WebhookReceiver,
    env: dict[str, str],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    config = fast_config([hook(receiver)], max_payload_bytes=4096)
    publisher = NotificationPublisher(sqlite_engine, config, environ=env)
    call = {"event_type": "run.approved", "payload": {"ok": True}, **kwargs}
    with pytest.raises(error):
        publisher.publish(call.pop("event_type"), call.pop("payload"), **call)
    assert outbox_rows(sqlite_engine) == []


def test_a_bad_event_in_a_batch_enqueues_none_of_it(
    sqlite_engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    publisher = NotificationPublisher(sqlite_engine, fast_config([hook(receiver)]), environ=env)
    with pytest.raises(PayloadError):
        publisher.publish_batch(
            [NotificationEvent("a.ok", {"n": 1}), NotificationEvent("a.bad", {"n": {1, 2}})]
        )
    assert outbox_rows(sqlite_engine) == []
    ids = publisher.publish_batch([NotificationEvent("a.ok", {"n": n}) for n in range(3)])
    assert sorted(r["notification_id"] for r in outbox_rows(sqlite_engine)) == sorted(ids)


def test_410_disables_the_destination(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.set_path_fault("/gone", "410")
    config = fast_config([hook(receiver), hook(receiver, name="gone", path="/gone")])
    publisher = NotificationPublisher(engine, config, environ=env)
    first = publisher.publish("run.approved", {"n": 0})
    drain(engine, config, env)
    later = [publisher.publish("run.approved", {"n": n}) for n in (1, 2)]
    drain(engine, config, env)
    assert len([r for r in receiver.requests() if r.path == "/gone"]) == 1
    assert len([r for r in receiver.delivered() if r.path == "/hook"]) == 3
    with engine.connect() as conn:
        state = (
            conn.execute(
                sa.select(destination_state).where(destination_state.c.destination == "gone")
            )
            .mappings()
            .one()
        )
    assert state["disabled"] and "410" in (state["disabled_reason"] or "")
    gone_first = next(
        d for d in publisher.get_delivery_status(first).destinations if d.destination == "gone"
    )
    assert gone_first.status == "disabled"
    assert [
        a.status for a in publisher.get_delivery_status(first).attempts if a.destination == "gone"
    ] == ["gone"]
    for notification in later:
        status = publisher.get_delivery_status(notification)
        assert {d.destination: d.status for d in status.destinations} == {
            "gone": "disabled",
            "hook": "delivered",
        }


def test_a_corrupt_row_fails_alone_and_the_pass_goes_on(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    config = fast_config([hook(receiver)])
    publisher = NotificationPublisher(engine, config, environ=env)
    bad, good = (publisher.publish("run.approved", {"n": n}) for n in (0, 1))
    with engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.notification_id == bad).values(payload='{"n": 0')
        )
    stats = drain(engine, config, env)
    assert (stats.claimed, stats.delivered, stats.failed, stats.retrying) == (2, 1, 1, 0)
    assert [r.webhook_id for r in receiver.delivered()] == [
        d.outbox_id for d in publisher.get_delivery_status(good).destinations
    ]
    status = publisher.get_delivery_status(bad)
    (row,) = status.destinations
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "stored payload is not a JSON object" in row.last_error
    assert [(a.status, a.error) for a in status.attempts] == [("failed", row.last_error)]
    with engine.connect() as conn:
        failures = conn.execute(sa.select(destination_state.c.consecutive_failures)).scalar_one()
    assert failures == 0  # the destination is not to blame for a corrupt row


def test_retry_after_is_honoured(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.retry_after = "1"
    receiver.queue_faults("429")
    config = fast_config([hook(receiver)])
    publisher = NotificationPublisher(engine, config, environ=env)
    notification = publisher.publish("run.approved", {"n": 1})
    drain(engine, config, env)
    attempts = publisher.get_delivery_status(notification).attempts
    assert [(a.status, a.http_status) for a in attempts] == [("retrying", 429), ("delivered", 200)]
    gap = (parse_ts(attempts[1].timestamp) - parse_ts(attempts[0].timestamp)).total_seconds()
    assert gap >= 1.0
    seen = receiver.requests()
    assert (seen[1].received_at - seen[0].received_at).total_seconds() >= 1.0
    assert seen[0].webhook_id == seen[1].webhook_id


def test_circuit_opens_then_lets_one_probe_through(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.set_path_fault("/hook", "500")
    config = fast_config(
        [hook(receiver)],
        circuit={"failure_threshold": 3, "open_s": 1.0},
        retry={"max_attempts": 50, "base_s": 0.0, "cap_s": 0.0},
    )
    publisher = NotificationPublisher(engine, config, environ=env)
    for n in range(5):
        publisher.publish("run.approved", {"n": n})
    with Dispatcher(engine, config, environ=env) as dispatcher:
        assert dispatcher.run_once().retrying == 5
        assert dispatcher.run_once().claimed == 0  # open: nothing is sent
        assert len(receiver.requests()) == 5
        receiver.set_path_fault("/hook", None)
        with engine.connect() as conn:
            open_until = conn.execute(
                sa.select(destination_state.c.circuit_open_until)
            ).scalar_one()
        assert open_until is not None
        _sleep_past(open_until)
        probe = dispatcher.run_once()
        assert (probe.claimed, probe.delivered) == (1, 1)  # half-open: a single probe
        assert dispatcher.run_once().delivered == 4
    assert len(receiver.delivered()) == 5


def test_one_probe_across_dispatchers_while_a_circuit_is_half_open(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.set_path_fault("/hook", "500")
    config = fast_config(
        [hook(receiver)],
        circuit={"failure_threshold": 3, "open_s": 0.5},
        retry={"max_attempts": 50, "base_s": 0.0, "cap_s": 0.0},
    )
    publisher = NotificationPublisher(engine, config, environ=env)
    for n in range(4):
        publisher.publish("run.approved", {"n": n})
    with (
        Dispatcher(engine, config, environ=env, worker_id="first") as first,
        Dispatcher(engine, config, environ=env, worker_id="second") as second,
        ThreadPoolExecutor(max_workers=1) as background,
    ):
        assert first.run_once().retrying == 4
        receiver.set_path_fault("/hook", None)
        receiver.delay_s = 1.0  # the probe stays in flight while the second dispatcher looks
        with engine.connect() as conn:
            open_until = conn.execute(
                sa.select(destination_state.c.circuit_open_until)
            ).scalar_one()
        _sleep_past(open_until)
        probe = background.submit(first.run_once)
        assert receiver.wait_for(lambda seen: len(seen) == 5)  # the probe has arrived
        assert second.run_once().claimed == 0  # the first dispatcher holds the only probe
        assert (probe.result(timeout=30).claimed, probe.result().delivered) == (1, 1)
        receiver.delay_s = 0.0
        assert second.run_once().delivered == 3  # closed again: everyone may send
    assert len(receiver.requests()) == 8


def test_a_probe_with_nothing_due_is_given_back(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.set_path_fault("/hook", "500")
    config = fast_config(
        [hook(receiver)],
        circuit={"failure_threshold": 1, "open_s": 0.2},
        retry={"max_attempts": 50, "base_s": 600.0, "cap_s": 600.0},
    )
    NotificationPublisher(engine, config, environ=env).publish("run.approved", {"n": 1})
    with Dispatcher(engine, config, environ=env, rng=random.Random(5)) as dispatcher:
        assert dispatcher.run_once().retrying == 1
        with engine.connect() as conn:
            open_until = conn.execute(
                sa.select(destination_state.c.circuit_open_until)
            ).scalar_one()
            retry_at = conn.execute(sa.select(outbox.c.next_attempt_at)).scalar_one()
        _sleep_past(open_until)
        assert as_utc(retry_at) > utc_now()  # the only row waits for its retry
        assert dispatcher.run_once().claimed == 0
    with engine.connect() as conn:
        held = conn.execute(sa.select(destination_state.c.circuit_open_until)).scalar_one()
    # Half-open again at once, not held shut for a lease by a probe that sent nothing.
    assert held is not None and as_utc(held) <= utc_now()


def _sleep_past(moment: datetime) -> None:
    for _ in range(100):
        if utc_now() > as_utc(moment):
            return
        time.sleep(0.02)


def test_thousand_notifications_with_30_percent_faults_all_arrive(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.retry_after = "0"
    receiver.hang_s = 0.5  # past the client's 0.2 s timeout: "timeout" and "late" both time out
    kinds = ("500", "503", "drop", "429", "timeout", "late")
    receiver.set_fault_rate(0.3, kinds=kinds, seed=11)
    config = fast_config(
        [hook(receiver, timeout_s=0.2)],
        retry={"max_attempts": 25},
        dispatcher={"batch_size": 200, "max_workers": 16},
    )
    publisher = NotificationPublisher(engine, config, environ=env)
    ids = publisher.publish_batch([NotificationEvent("load.test", {"n": n}) for n in range(1000)])
    stats = drain(engine, config, env)
    rows = outbox_rows(engine)
    assert len(rows) == 1000 and len(set(ids)) == 1000
    assert {r["status"] for r in rows} == {"delivered"}
    assert stats.delivered == 1000 and stats.retrying > 0
    requests = receiver.requests()
    faulted = [r for r in requests if r.fault]
    assert len(faulted) >= 0.25 * len(requests)  # the faults really were injected
    assert {r.fault for r in faulted} == set(kinds)
    delivered = receiver.delivered()
    counts = Counter(r.webhook_id for r in delivered)
    assert set(counts) == {r["id"] for r in rows}  # 100 % arrived
    assert all(r.signature_valid and r.correlation_id for r in delivered)
    # A "late" answer reached the receiver but not the client, so it was sent again: the
    # duplicate carries the same webhook-id and the same body.
    late = {r.webhook_id for r in faulted if r.fault == "late"}
    assert late and all(counts[webhook_id] >= 2 for webhook_id in late)
    for webhook_id in (w for w, n in counts.items() if n > 1):
        assert len({r.body for r in delivered if r.webhook_id == webhook_id}) == 1
    with engine.connect() as conn:
        attempts = conn.execute(
            sa.select(sa.func.count()).select_from(delivery_attempts)
        ).scalar_one()
    assert attempts == 1000 + stats.retrying


def test_two_dispatchers_share_the_outbox_without_double_delivery(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    config = fast_config([hook(receiver)], dispatcher={"batch_size": 20, "max_workers": 4})
    publisher = NotificationPublisher(engine, config, environ=env)
    publisher.publish_batch([NotificationEvent("share.test", {"n": n}) for n in range(200)])
    results: list[DispatchStats] = []

    def work(name: str) -> None:
        with Dispatcher(engine, config, environ=env, worker_id=name) as dispatcher:
            results.append(dispatcher.run(until_idle=True, max_seconds=60))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    ids = [r.webhook_id for r in receiver.delivered()]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sum(r.delivered for r in results) == 200


def test_attempts_run_concurrently_across_destinations(
    sqlite_engine: Engine, secret: str, env: dict[str, str]
) -> None:
    delay = 1.0
    with (
        WebhookReceiver(secret=secret, delay_s=delay) as slow,
        WebhookReceiver(secret=secret) as fast,
    ):
        config = fast_config(
            [hook(slow, name="slow", timeout_s=5.0), hook(fast, name="fast")],
            dispatcher={"max_workers": 8},
        )
        publisher = NotificationPublisher(sqlite_engine, config, environ=env)
        for n in range(3):
            publisher.publish("run.approved", {"n": n})
        with Dispatcher(sqlite_engine, config, environ=env) as dispatcher:
            stats = dispatcher.run_once()
        slow_starts = [r.perf_counter for r in slow.delivered()]
        fast_starts = [r.perf_counter for r in fast.delivered()]
    assert stats.delivered == 6 and len(slow_starts) == 3 and len(fast_starts) == 3
    # Every request began before the first slow one was answered: none waited for another.
    assert max(slow_starts + fast_starts) < min(slow_starts) + delay


def test_a_slow_batch_keeps_its_lease_by_heartbeat(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str]
) -> None:
    receiver.delay_s = 2.0
    config = fast_config(
        [hook(receiver, timeout_s=5.0)], dispatcher={"lease_s": 1.0, "max_workers": 4}
    )
    publisher = NotificationPublisher(engine, config, environ=env)
    for n in range(4):
        publisher.publish("slow.test", {"n": n})
    with Dispatcher(engine, config, environ=env, worker_id="slow") as slow:
        worker = threading.Thread(target=slow.run_once)
        worker.start()
        for _ in range(200):
            if any(r["claimed_by"] == "slow" for r in outbox_rows(engine)):
                break
            time.sleep(0.01)
        time.sleep(1.4)  # past the original lease: only the heartbeat keeps the rows
        with Dispatcher(engine, config, environ=env, worker_id="eager") as eager:
            assert eager.run_once().claimed == 0
        worker.join(timeout=30)
    ids = [r.webhook_id for r in receiver.delivered()]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert {r["status"] for r in outbox_rows(engine)} == {"delivered"}


def test_a_failing_claim_still_records_the_attempts_in_flight(
    engine: Engine, receiver: WebhookReceiver, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.delay_s = 0.5  # the first attempts are still in flight when the next claim fails
    config = fast_config([hook(receiver)], dispatcher={"batch_size": 4, "max_workers": 2})
    publisher = NotificationPublisher(engine, config, environ=env)
    publisher.publish_batch([NotificationEvent("run.approved", {"n": n}) for n in range(6)])
    with Dispatcher(engine, config, environ=env) as dispatcher:
        real_claim = dispatcher._claim
        claims: list[int] = []

        def claim_then_fail(limit: int, stats: DispatchStats, *, refresh: bool) -> Any:
            claims.append(limit)
            if len(claims) > 1:
                raise StorageError("could not claim outbox rows: the database went away")
            return real_claim(limit, stats, refresh=refresh)

        monkeypatch.setattr(dispatcher, "_claim", claim_then_fail)
        with pytest.raises(StorageError, match="went away"):
            dispatcher.run(max_seconds=30)
    assert len(claims) == 2  # the second claim came while the first rows were in flight
    rows = outbox_rows(engine)
    delivered = [r for r in rows if r["status"] == "delivered"]
    assert len(delivered) == 4 and len(receiver.delivered()) == 4
    with engine.connect() as conn:
        recorded = conn.execute(sa.select(sa.func.count()).select_from(delivery_attempts)).scalar()
    assert recorded == 4  # every attempt made was recorded despite the failure
