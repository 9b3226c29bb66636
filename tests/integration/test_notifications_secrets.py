"""Secrets never reach the logs, the outbox, the delivery log or an error text.

Three ways a secret could leak are forced here, each through a real receiver: a transport error
that quotes the request URL (a Slack URL's path is its token), a channel that raises with the
webhook secret in its message, and an SMTP server that echoes the rejected password in its reply.
Each test first proves the secret really was in the error (the stored text says ``[redacted]``),
then searches every record for it: the outbox, the attempt log, ``delivery_log()`` and its CSV,
``get_delivery_status``, and every log record at DEBUG.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, NotificationPublisher, write_delivery_log_csv
from agent_platform.notifications.channels import Channel, build_channel
from agent_platform.notifications.destinations import resolve_destinations
from agent_platform.notifications.http_sender import HttpSender
from agent_platform.notifications.outcome import AttemptOutcome
from agent_platform.notifications.render import OutboundMessage
from agent_platform.notifications.ssrf import AddressPolicy
from agent_platform.notifications.tables import delivery_attempts, outbox
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import (
    SmtpReceiver,
    WebhookReceiver,
    fast_config,
    new_webhook_secret,
    self_signed_tls,
)

TOKEN = "T0K3N-slack-path-secret"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


def every_record(
    engine: Engine, publisher: NotificationPublisher, ids: list[str], tmp_path: Path
) -> dict[str, str]:
    """Each place a secret must not appear, as text."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(outbox)).mappings()]
        attempts = [dict(r) for r in conn.execute(sa.select(delivery_attempts)).mappings()]
    csv_path = write_delivery_log_csv(tmp_path / "delivery_log.csv", publisher.delivery_log())
    return {
        "outbox": repr(rows),
        "delivery_attempts": repr(attempts),
        "delivery_log": repr(publisher.delivery_log()),
        "delivery_log.csv": csv_path.read_text(encoding="utf-8"),
        "status": repr([publisher.get_delivery_status(n) for n in ids]),
    }


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every record logged on the sending side; the test SMTP server's own log is not ours."""
    return "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("mail.")
    )


def assert_absent(records: dict[str, str], log_text: str, secrets: list[str]) -> None:
    assert log_text, "nothing was logged: the log check would be vacuous"
    for where, text in {**records, "log records": log_text}.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"


def stored_errors(publisher: NotificationPublisher, ids: list[str]) -> list[str]:
    return [a.error for n in ids for a in publisher.get_delivery_status(n).attempts if a.error]


def drain(dispatcher: Dispatcher) -> None:
    dispatcher.run(until_idle=True, max_seconds=60)


def test_no_secret_is_stored_or_logged_in_normal_operation(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    secret = new_webhook_secret()
    with WebhookReceiver(secret=secret, unsigned_paths=[f"/services/{TOKEN}"]) as rx:
        env = {
            "S": secret,
            "SLACK_URL": rx.url(f"/services/{TOKEN}"),
            "DEAD_URL": f"http://127.0.0.1:9/x?key={TOKEN}",
        }
        config = fast_config(
            [
                {"name": "hook", "type": "webhook", "url": rx.url(), "secret_env": "S"},
                {"name": "slack", "type": "slack", "url_env": "SLACK_URL", "timeout_s": 0.3},
                {"name": "dead", "type": "slack", "url_env": "DEAD_URL", "timeout_s": 0.3},
            ],
            retry={"max_attempts": 3},
        )
        rx.queue_faults("500", "drop", "500", "timeout")
        rx.hang_s = 0.5
        caplog.set_level(logging.DEBUG)
        publisher = NotificationPublisher(engine, config, environ=env)
        ids = [publisher.publish("run.approved", {"n": n}) for n in range(3)]
        with Dispatcher(engine, config, environ=env, rng=random.Random(5)) as dispatcher:
            drain(dispatcher)
    assert len(stored_errors(publisher, ids)) >= 3  # failures happened and their texts were kept
    records = every_record(engine, publisher, ids, tmp_path)
    assert_absent(records, client_log(caplog), [secret, secret.removeprefix("whsec_"), TOKEN])


class UrlQuotingTransport(httpx.BaseTransport):
    """A real transport whose first try of each message to ``prefix`` fails quoting its URL."""

    def __init__(self, prefix: str) -> None:
        self._inner = httpx.HTTPTransport(retries=0, trust_env=False)
        self._prefix = prefix
        self._failed: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.url.path}|{request.content!r}"
        if request.url.path.startswith(self._prefix) and key not in self._failed:
            self._failed.add(key)
            raise httpx.ConnectError(f"cannot reach {request.url}", request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class SecretQuotingChannel:
    """A real channel whose first attempt raises a message quoting the webhook secret."""

    def __init__(self, inner: Channel, secret: str) -> None:
        self.name = inner.name
        self._inner = inner
        self._secret = secret
        self._raised: set[str] = set()

    def send(self, message: OutboundMessage) -> AttemptOutcome:
        if message.message_id not in self._raised:
            self._raised.add(message.message_id)
            raise RuntimeError(f"signing failed with key {self._secret}")
        return self._inner.send(message)


def http_channels(
    config: NotificationsConfig, env: dict[str, str], transport: httpx.BaseTransport
) -> dict[str, Channel]:
    destinations = resolve_destinations(config, env)
    sender = HttpSender(AddressPolicy(allow_cidrs=["127.0.0.1/32"]), transport=transport)
    hook = build_channel(destinations["hook"], sender=sender)
    slack = build_channel(destinations["slack"], sender=sender)
    return {"hook": SecretQuotingChannel(hook, env["S"]), "slack": slack}


def test_secrets_in_transport_and_channel_errors_are_redacted_everywhere(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    secret = new_webhook_secret()
    with WebhookReceiver(secret=secret, unsigned_paths=[f"/services/{TOKEN}"]) as rx:
        env = {"S": secret, "SLACK_URL": rx.url(f"/services/{TOKEN}")}
        config = fast_config(
            [
                {"name": "hook", "type": "webhook", "url": rx.url(), "secret_env": "S"},
                {"name": "slack", "type": "slack", "url_env": "SLACK_URL"},
            ]
        )
        caplog.set_level(logging.DEBUG)
        publisher = NotificationPublisher(engine, config, environ=env)
        ids = [publisher.publish("run.approved", {"n": n}) for n in range(2)]
        transport = UrlQuotingTransport(prefix="/services/")
        channels = http_channels(config, env, transport)
        with Dispatcher(engine, config, environ=env, channels=channels) as dispatcher:
            drain(dispatcher)
        transport.close()
        assert len(rx.delivered()) == 4  # each message failed once, then arrived
    errors = stored_errors(publisher, ids)
    assert len(errors) == 4 and all("[redacted]" in e for e in errors)
    assert sum("cannot reach" in e for e in errors) == 2  # the Slack URL was quoted, then hidden
    assert sum("signing failed with key" in e for e in errors) == 2
    records = every_record(engine, publisher, ids, tmp_path)
    assert_absent(records, client_log(caplog), [secret, secret.removeprefix("whsec_"), TOKEN])


def test_a_password_echoed_by_the_smtp_server_is_redacted_everywhere(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    context, ca_file = self_signed_tls(tmp_path / "tls")
    wrong = "wr0ng-smtp-pa55word"
    env = {"SMTP_USER": "bot", "SMTP_PASS": wrong}
    destination: dict[str, Any] = {
        "name": "mail",
        "type": "email",
        "smtp_host": "127.0.0.1",
        "starttls": True,
        "ca_file": str(ca_file),
        "username_env": "SMTP_USER",
        "password_env": "SMTP_PASS",
        "from_addr": "agent-platform@example.org",
        "to_addrs": ["finops@example.org"],
    }
    receiver = SmtpReceiver(
        tls_context=context,
        require_starttls=True,
        credentials=("bot", "the-right-one"),
        echo_credentials=True,
    )
    with receiver as smtp:
        config = fast_config([{**destination, "smtp_port": smtp.port}])
        caplog.set_level(logging.DEBUG)
        publisher = NotificationPublisher(engine, config, environ=env)
        ids = [publisher.publish("budget.threshold_crossed", {"spent_eur": 12.5})]
        with Dispatcher(engine, config, environ=env) as dispatcher:
            drain(dispatcher)
        assert smtp.messages() == []
    (error,) = stored_errors(publisher, ids)
    assert error.startswith("SMTP 535") and "credentials rejected: bot:[redacted]" in error
    records = every_record(engine, publisher, ids, tmp_path)
    assert_absent(records, client_log(caplog), [wrong])
