"""Dispatchers in other processes are woken by PostgreSQL, and claims survive a lost connection.

Real PostgreSQL, real dispatcher processes (spawned), a real loopback receiver. The poll
interval is set far beyond each test's wait, so a delivery that arrives in time can only have
been woken by the ``NOTIFY`` the publisher's insert sends on commit.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, NotificationEvent, NotificationPublisher
from agent_platform.notifications._lease_connection import LeaseConnection
from agent_platform.notifications.tables import outbox
from agent_platform.notifications.wakeup import Waker
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import WebhookReceiver, fast_config, new_webhook_secret

SECRET_ENV = "WAKE_HOOK_SECRET"
POLL_S = 60.0  # never reached within a test: only a wake-up gets a row claimed in time


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine_for(pg_url)
    yield engine
    engine.dispose()


def config_for(rx: WebhookReceiver) -> dict[str, Any]:
    destination = {"name": "hook", "type": "webhook", "url": rx.url(), "secret_env": SECRET_ENV}
    config = fast_config([destination], dispatcher={"poll_interval_s": POLL_S})
    return config.model_dump(mode="json")


def test_a_commit_signals_the_claiming_connection_and_a_rollback_does_not(
    pg_engine: Engine,
) -> None:
    config = fast_config(
        [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h", "secret_env": "S"}]
    )
    publisher = NotificationPublisher(pg_engine, config, environ={"S": new_webhook_secret()})
    leases = LeaseConnection(pg_engine)
    try:
        assert leases.run(lambda bind: bind.exec_driver_sql("SELECT 1").scalar()) == 1
        assert leases.signalled()  # a new connection counts: something may have been missed
        leases.clear()
        with pg_engine.connect() as conn:
            publisher.publish("run.approved", {"n": 1}, connection=conn)
            conn.rollback()
        leases.wait(1.0, None)
        assert not leases.signalled()
        with pg_engine.begin() as conn:
            publisher.publish("run.approved", {"n": 2}, connection=conn)
        waited = time.monotonic()
        leases.wait(30.0, None)  # returns when the signal arrives
        assert leases.signalled() and time.monotonic() - waited < 30.0
    finally:
        leases.close()


def test_the_waker_cuts_an_idle_wait_short(pg_engine: Engine) -> None:
    leases, waker = LeaseConnection(pg_engine), Waker()
    try:
        leases.run(lambda bind: bind.exec_driver_sql("SELECT 1").scalar())
        leases.clear()
        threading.Timer(0.2, waker.set).start()
        started = time.monotonic()
        leases.wait(30.0, waker)
        assert waker.is_set() and time.monotonic() - started < 30.0
        waker.clear()
        assert not waker.is_set()
    finally:
        leases.close()
        waker.close()
    waker.set()  # after close: nothing is written anywhere
    assert waker.is_set()


def _dispatch(url: str, data: dict[str, Any], env: dict[str, str], stop: ProcessEvent) -> None:
    engine = create_engine_for(url)
    halt = threading.Event()
    config = NotificationsConfig.model_validate(data)
    with Dispatcher(engine, config, environ=env) as dispatcher:

        def relay() -> None:
            stop.wait()
            halt.set()
            dispatcher.wake()

        threading.Thread(target=relay, daemon=True).start()
        dispatcher.run(stop=halt)
    engine.dispose()


def test_dispatcher_processes_are_woken_and_share_the_outbox(
    pg_url: str, pg_engine: Engine
) -> None:
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    with WebhookReceiver(secret=secret) as rx:
        data = config_for(rx)
        workers = [
            context.Process(target=_dispatch, args=(pg_url, data, env, stop)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        try:
            publisher = NotificationPublisher(
                pg_engine, NotificationsConfig.model_validate(data), environ=env
            )
            # Each process claims once at start (nothing due yet), then waits for a signal.
            publisher.publish("run.approved", {"n": "first"})
            assert rx.wait_for_delivered_ids(1, timeout=30)
            events = [NotificationEvent("run.approved", {"n": n}) for n in range(200)]
            publisher.publish_batch(events)
            assert rx.wait_for_delivered_ids(201, timeout=30)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
    assert [w.exitcode for w in workers] == [0, 0]
    ids = [r.webhook_id for r in rx.delivered()]
    assert len(ids) == len(set(ids)) == 201  # no row delivered twice
    with pg_engine.connect() as conn:
        statuses = conn.execute(sa.select(outbox.c.status, outbox.c.attempts)).all()
    assert {tuple(s) for s in statuses} == {("delivered", 1)}


def test_a_claim_survives_the_loss_of_the_held_connection(pg_engine: Engine) -> None:
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    with WebhookReceiver(secret=secret) as rx:
        config = NotificationsConfig.model_validate(config_for(rx))
        publisher = NotificationPublisher(pg_engine, config, environ=env)
        with Dispatcher(pg_engine, config, environ=env) as dispatcher:
            publisher.publish("run.approved", {"n": 1})
            assert dispatcher.run_once().delivered == 1
            with pg_engine.connect() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND query LIKE 'UPDATE outbox SET claimed_by%'"
                    )
                ).all()
            assert killed  # the dispatcher's claiming connection was cut
            publisher.publish("run.approved", {"n": 2})
            assert dispatcher.run_once().delivered == 1
    assert len(rx.delivered()) == 2
