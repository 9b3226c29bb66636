"""The dispatcher in compressed time against real receivers, and the receivers' new faults:
a slow answer, and SMTP 451, 554, a dropped connection and a timeout."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, NotificationPublisher
from agent_platform.notifications.tables import destination_state
from tests.support.receivers import (
    SmtpReceiver,
    WebhookReceiver,
    fast_config,
    new_webhook_secret,
)

SECRET_ENV = "TEST_HOOK_SECRET"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _webhook(rx: WebhookReceiver, timeout_s: float = 2.0) -> dict[str, object]:
    return {
        "name": "hook",
        "type": "webhook",
        "url": rx.url("/hook"),
        "secret_env": SECRET_ENV,
        "timeout_s": timeout_s,
    }


def test_retry_after_is_honoured_in_scaled_time(engine: Engine) -> None:
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    with WebhookReceiver(secret=secret, retry_after="8") as rx:
        rx.queue_faults("429")
        config = fast_config([_webhook(rx)])
        publisher = NotificationPublisher(engine, config, environ=env)
        nid = publisher.publish("run.approved", {"n": 1})
        with Dispatcher(engine, config, environ=env, time_scale=0.05) as dispatcher:
            dispatcher.run(until_idle=True, max_seconds=30)
    attempts = publisher.get_delivery_status(nid).attempts
    assert [a.status for a in attempts] == ["retrying", "delivered"]
    gap = (_ts(attempts[1].timestamp) - _ts(attempts[0].timestamp)).total_seconds()
    assert 0.4 <= gap < 4.0  # 8 s of Retry-After at 1/20 is 0.4 s, not 8


def test_the_circuit_opens_for_the_scaled_time(engine: Engine) -> None:
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    with WebhookReceiver(secret=secret) as rx:
        rx.set_path_fault("/hook", "503")
        config = fast_config([_webhook(rx)], circuit={"failure_threshold": 2, "open_s": 20.0})
        publisher = NotificationPublisher(engine, config, environ=env)
        for n in range(2):
            publisher.publish("run.approved", {"n": n})
        with Dispatcher(engine, config, environ=env, time_scale=0.05) as dispatcher:
            assert dispatcher.run_once().retrying == 2
        with engine.connect() as conn:
            state = conn.execute(sa.select(destination_state)).mappings().one()
    open_for = (state["circuit_open_until"] - state["updated_at"]).total_seconds()
    assert 0.9 <= open_for <= 1.1  # 20 s at 1/20


def test_a_slow_answer_arrives_late_but_delivered(engine: Engine) -> None:
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    with WebhookReceiver(secret=secret, slow_s=0.3) as rx:
        rx.queue_faults("slow")
        config = fast_config([_webhook(rx)])
        publisher = NotificationPublisher(engine, config, environ=env)
        nid = publisher.publish("run.approved", {"n": 1})
        with Dispatcher(engine, config, environ=env, rng=random.Random(1)) as dispatcher:
            dispatcher.run(until_idle=True, max_seconds=30)
    (attempt,) = publisher.get_delivery_status(nid).attempts
    assert attempt.status == "delivered" and attempt.latency_ms >= 300


@pytest.mark.parametrize(
    ("fault", "status"),
    [("451", "retrying"), ("554", "failed"), ("drop", "retrying"), ("timeout", "retrying")],
)
def test_smtp_faults_are_retried_unless_permanent(engine: Engine, fault: str, status: str) -> None:
    with SmtpReceiver(hang_s=0.6) as smtp:
        smtp.set_fault_rate(1.0, kinds=[fault], seed=1)
        mail = {
            "name": "mail",
            "type": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "starttls": False,
            "from_addr": "agent-platform@example.org",
            "to_addrs": ["finops@example.org"],
            "timeout_s": 0.3,
        }
        config = fast_config([mail])
        publisher = NotificationPublisher(engine, config)
        nid = publisher.publish("run.approved", {"n": 1})
        with Dispatcher(engine, config) as dispatcher:
            dispatcher.run_once()
        faults = smtp.faults()
    (attempt,) = publisher.get_delivery_status(nid).attempts
    assert attempt.status == status
    assert [f.kind for f in faults] == [fault] and smtp.messages() == []
    assert nid in faults[0].message.get_body(preferencelist=("plain",)).get_content()


def test_an_unknown_smtp_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SMTP fault"):
        SmtpReceiver().set_fault_rate(0.5, kinds=["500"])
