"""Real-server tests of each channel's edge: SMTP (plain and STARTTLS), SSRF refusal on the wire,
the delivery log and its CSV, and the ``notify`` commands. Secrets: test_notifications_secrets;
HTTPS pinning: test_notifications_tls."""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.commands import notify
from agent_platform.db import create_engine_for
from agent_platform.errors import InvalidInputError
from agent_platform.notifications import (
    DELIVERY_LOG_COLUMNS,
    Dispatcher,
    NotificationPublisher,
    load_notifications_config,
    write_delivery_log_csv,
)
from agent_platform.notifications.tables import outbox
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import (
    SmtpReceiver,
    WebhookReceiver,
    fast_config,
    new_webhook_secret,
    self_signed_tls,
)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


def drain(engine: Engine, config: NotificationsConfig, env: dict[str, str]) -> None:
    with Dispatcher(engine, config, environ=env, rng=random.Random(5)) as dispatcher:
        dispatcher.run(until_idle=True, max_seconds=60)


def email_destination(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "mail",
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "starttls": False,
        "from_addr": "agent-platform@example.org",
        "to_addrs": ["finops@example.org", "ops@example.org"],
        "timeout_s": 5,
        **extra,
    }


def test_email_arrives_with_subject_and_correlation_id(engine: Engine) -> None:
    with SmtpReceiver() as smtp:
        config = fast_config([email_destination(smtp.port)])
        publisher = NotificationPublisher(engine, config, environ={})
        notification = publisher.publish(
            "budget.threshold_crossed", {"spent_eur": 361.5}, correlation_id="corr-mail-1"
        )
        drain(engine, config, {})
        assert smtp.wait_for(1, timeout=5)
        (mail,) = smtp.messages()
    assert mail.subject == "[agent-platform] budget.threshold_crossed (correlation id corr-mail-1)"
    assert mail.rcpt_tos == ["finops@example.org", "ops@example.org"]
    assert mail.message["X-Correlation-ID"] == "corr-mail-1"
    assert "Correlation id: corr-mail-1" in mail.body("plain")
    assert "<code>corr-mail-1</code>" in mail.body("html")
    assert not mail.tls
    assert publisher.get_delivery_status(notification).delivered


def test_email_over_starttls_with_a_private_ca(engine: Engine, tmp_path: Path) -> None:
    context, cert = self_signed_tls(tmp_path / "tls")
    credentials = ("bot", "smtp-pa55-word")
    with SmtpReceiver(tls_context=context, require_starttls=True, credentials=credentials) as smtp:
        destination = email_destination(
            smtp.port,
            starttls=True,
            ca_file=str(cert),
            username_env="SMTP_USER",
            password_env="SMTP_PASS",
        )
        config = fast_config([destination])
        env = {"SMTP_USER": "bot", "SMTP_PASS": "smtp-pa55-word"}
        NotificationPublisher(engine, config, environ=env).publish("run.approved", {"run": 7})
        with Dispatcher(engine, config, environ=env) as dispatcher:
            dispatcher.run(until_idle=True, max_seconds=30)
        assert smtp.wait_for(1, timeout=5)
        (mail,) = smtp.messages()
    assert mail.tls
    assert mail.auth_user == "bot"
    assert "run.approved" in mail.subject


def test_starttls_refused_without_trusting_the_certificate(engine: Engine, tmp_path: Path) -> None:
    context, _cert = self_signed_tls(tmp_path / "tls")
    with SmtpReceiver(tls_context=context, require_starttls=True) as smtp:
        config = fast_config(
            [email_destination(smtp.port, starttls=True)], retry={"max_attempts": 2}
        )
        publisher = NotificationPublisher(engine, config, environ={})
        notification = publisher.publish("run.approved", {"run": 8})
        drain(engine, config, {})
        assert smtp.messages() == []
    status = publisher.get_delivery_status(notification)
    assert [a.status for a in status.attempts] == ["retrying", "failed"]
    assert "SSL" in (status.attempts[0].error or "")


REFUSED_URLS = {
    "loopback": "http://127.0.0.1:{port}/hook",
    "localhost name": "http://localhost:{port}/hook",
    "10/8": "http://10.0.0.1/hook",
    "172.16/12": "http://172.16.5.4/hook",
    "192.168/16": "http://192.168.0.10/hook",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "CGNAT": "http://100.64.0.1/hook",
    "IPv6 loopback": "http://[::1]:{port}/hook",
    "IPv6 ULA": "http://[fc00::1]/hook",
    "IPv6 metadata": "http://[fd00:ec2::254]/hook",
    "IPv6 link-local": "http://[fe80::1]/hook",
}


def test_every_non_public_destination_is_refused_on_the_wire(engine: Engine) -> None:
    secret = new_webhook_secret()
    with WebhookReceiver(secret=secret) as rx:
        destinations = [
            {
                "name": f"d{i}",
                "type": "webhook",
                "url": url.format(port=rx.port),
                "secret_env": "S",
                "timeout_s": 0.5,
            }
            for i, url in enumerate(REFUSED_URLS.values())
        ]
        config = fast_config(destinations, security={"allow_cidrs": [], "allow_hosts": []})
        publisher = NotificationPublisher(engine, config, environ={"S": secret})
        notification = publisher.publish("run.approved", {"n": 1})
        drain(engine, config, {"S": secret})
        assert rx.requests() == []
    status = publisher.get_delivery_status(notification)
    assert len(status.attempts) == len(REFUSED_URLS)
    assert {a.status for a in status.attempts} == {"refused"}
    assert {d.status for d in status.destinations} == {"failed"}
    assert all("refused" in (a.error or "") for a in status.attempts)


def test_delivery_log_rows_and_csv(engine: Engine, tmp_path: Path) -> None:
    secret = new_webhook_secret()
    with WebhookReceiver(secret=secret) as rx:
        rx.queue_faults("503")
        config = fast_config(
            [{"name": "hook", "type": "webhook", "url": rx.url(), "secret_env": "S"}]
        )
        publisher = NotificationPublisher(engine, config, environ={"S": secret})
        for n in range(3):
            publisher.publish("run.approved", {"n": n}, correlation_id=f"c-{n}")
        drain(engine, config, {"S": secret})
    rows = publisher.delivery_log()
    assert len(rows) == 4
    assert sorted(r.status for r in rows) == ["delivered", "delivered", "delivered", "retrying"]
    assert {r.correlation_id for r in rows} == {"c-0", "c-1", "c-2"}
    assert all(r.timestamp.endswith("Z") and r.latency_ms >= 0 for r in rows)
    assert max(r.attempt for r in rows) == 2
    path = write_delivery_log_csv(tmp_path / "notifications" / "delivery_log.csv", rows)
    with path.open(newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == DELIVERY_LOG_COLUMNS
    assert [r["correlation_id"] for r in read] == [r.correlation_id for r in rows]
    assert publisher.delivery_log(since=datetime.now(UTC)) == []


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    notify.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_notify_commands(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = new_webhook_secret()
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLI_HOOK_SECRET", secret)
    with WebhookReceiver(secret=secret) as rx:
        config_file = tmp_path / "notifications.yaml"
        config_file.write_text(
            "dispatcher: {poll_interval_s: 0.02}\n"
            "security: {allow_cidrs: ['127.0.0.1/32']}\n"
            f"destinations: [{{name: hook, type: webhook, url: '{rx.url()}', secret_env: CLI_HOOK_SECRET}}]\n",
            encoding="utf-8",
        )
        engine = create_engine_for(sqlite_url)
        publisher = NotificationPublisher(engine, load_notifications_config(config_file))
        notification = publisher.publish("run.approved", {"n": 1})
        assert (
            _cli(
                [
                    "notify",
                    "dispatch",
                    "--config",
                    str(config_file),
                    "--until-idle",
                    "--max-seconds",
                    "30",
                ]
            )
            == 0
        )
        assert '"delivered": 1' in capsys.readouterr().out
    assert _cli(["notify", "status", notification]) == 0
    assert '"status": "delivered"' in capsys.readouterr().out
    assert _cli(["notify", "status", "ntf_unknown"]) == 1
    assert _cli(["notify", "log", "--csv", str(tmp_path / "log.csv")]) == 0
    assert (
        (tmp_path / "log.csv")
        .read_text(encoding="utf-8")
        .startswith(",".join(DELIVERY_LOG_COLUMNS))
    )
    engine.dispose()


def test_every_notify_command_disposes_its_engine(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", sqlite_url)
    created: list[Engine] = []
    disposed: list[Engine] = []

    def spy(url: str) -> Engine:
        eng = create_engine_for(url)
        sa.event.listen(eng, "engine_disposed", disposed.append)
        created.append(eng)
        return eng

    monkeypatch.setattr(notify, "create_engine_for", spy)
    config_file = tmp_path / "notifications.yaml"
    config_file.write_text("destinations: []\n", encoding="utf-8")
    assert _cli(["notify", "dispatch", "--config", str(config_file), "--until-idle"]) == 0
    assert _cli(["notify", "status", "ntf_unknown"]) == 1
    assert _cli(["notify", "log"]) == 0
    with pytest.raises(InvalidInputError, match="no destination state"):
        _cli(["notify", "enable", "nowhere"])
    capsys.readouterr()
    assert len(created) == 4
    assert [id(e) for e in disposed] == [id(e) for e in created]


def test_shipped_config_publishes_with_no_destination(engine: Engine) -> None:
    publisher = NotificationPublisher(engine, load_notifications_config(), environ={})
    assert publisher.destinations == ()
    notification = publisher.publish("budget.threshold_crossed", {"spent_eur": 1.0})
    assert notification.startswith("ntf_")
    status = publisher.get_delivery_status(notification)
    assert status.destinations == [] and status.attempts == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0
