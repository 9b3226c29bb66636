"""HTTPS delivery pinned to the resolved address, against a real TLS receiver on loopback.

The destination URL names ``hooks.test`` (a reserved name no real resolver answers); the
dispatcher's resolver seam maps it to 127.0.0.1, where a TLS receiver serves a self-signed
certificate that names only ``hooks.test``. Delivery works only if the request really goes to
the resolved IP while TLS sends ``hooks.test`` as SNI and checks the certificate against that
name, trusting the CA file the destination names. A certificate for another name, or no trusted
CA, fails the handshake before any request is sent.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError
from agent_platform.notifications import Dispatcher, NotificationPublisher
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import (
    WebhookReceiver,
    fast_config,
    new_webhook_secret,
    self_signed_tls,
)

HOST = "hooks.test"
SECRET_ENV = "TLS_HOOK_SECRET"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


class RecordingResolver:
    """Maps every name to 127.0.0.1 and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return ["127.0.0.1"]


def https_hook(rx: WebhookReceiver, **extra: Any) -> dict[str, Any]:
    return {
        "name": "tls-hook",
        "type": "webhook",
        "url": rx.url("/hook", host=HOST),
        "secret_env": SECRET_ENV,
        "timeout_s": 3.0,
        **extra,
    }


def deliver_one(
    engine: Engine, config: NotificationsConfig, env: dict[str, str], resolver: RecordingResolver
) -> Any:
    publisher = NotificationPublisher(engine, config, environ=env)
    notification = publisher.publish("run.approved", {"run": 1}, correlation_id="tls-corr")
    with Dispatcher(
        engine, config, environ=env, resolver=resolver, rng=random.Random(1)
    ) as dispatcher:
        dispatcher.run(until_idle=True, max_seconds=30)
    return publisher.get_delivery_status(notification)


def test_https_goes_to_the_pinned_ip_with_sni_and_a_name_checked_certificate(
    engine: Engine, tmp_path: Path
) -> None:
    server_context, ca_file = self_signed_tls(tmp_path / "tls", names=[HOST])
    secret = new_webhook_secret()
    env = {SECRET_ENV: secret}
    resolver = RecordingResolver()
    with WebhookReceiver(secret=secret, tls_context=server_context) as rx:
        config = fast_config([https_hook(rx, ca_file=str(ca_file))])
        status = deliver_one(engine, config, env, resolver)
        (request,) = rx.requests()
        port = rx.port
    assert status.delivered
    assert [a.status for a in status.attempts] == ["delivered"]
    assert resolver.calls == [(HOST, port)]  # resolved once, by the SSRF check
    assert request.tls_server_name == HOST  # SNI carried the name, not the IP
    assert request.headers["host"] == f"{HOST}:{port}"
    assert request.signature_valid is True
    assert request.correlation_id == "tls-corr"


def test_a_certificate_for_another_name_is_rejected(engine: Engine, tmp_path: Path) -> None:
    server_context, ca_file = self_signed_tls(tmp_path / "tls", names=["other.test", "127.0.0.1"])
    secret = new_webhook_secret()
    resolver = RecordingResolver()
    with WebhookReceiver(secret=secret, tls_context=server_context) as rx:
        config = fast_config([https_hook(rx, ca_file=str(ca_file))], retry={"max_attempts": 2})
        status = deliver_one(engine, config, {SECRET_ENV: secret}, resolver)
        assert rx.requests() == []  # the handshake failed: no request was sent
    assert [a.status for a in status.attempts] == ["retrying", "failed"]
    assert all("CERTIFICATE_VERIFY_FAILED" in (a.error or "") for a in status.attempts)
    assert all(HOST in (a.error or "") for a in status.attempts)  # "Hostname mismatch ..."


def test_an_untrusted_self_signed_certificate_is_rejected(engine: Engine, tmp_path: Path) -> None:
    server_context, _ca_file = self_signed_tls(tmp_path / "tls", names=[HOST])
    secret = new_webhook_secret()
    resolver = RecordingResolver()
    with WebhookReceiver(secret=secret, tls_context=server_context) as rx:
        config = fast_config([https_hook(rx)], retry={"max_attempts": 1})
        status = deliver_one(engine, config, {SECRET_ENV: secret}, resolver)
        assert rx.requests() == []
    assert [a.status for a in status.attempts] == ["failed"]
    assert "CERTIFICATE_VERIFY_FAILED" in (status.attempts[0].error or "")


def test_an_unreadable_ca_file_is_a_config_error(engine: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    config = NotificationsConfig.model_validate(
        {
            "destinations": [
                {
                    "name": "tls-hook",
                    "type": "webhook",
                    "url": f"https://{HOST}/hook",
                    "secret_env": SECRET_ENV,
                    "ca_file": str(missing),
                }
            ]
        }
    )
    with pytest.raises(ConfigError) as caught:
        NotificationPublisher(engine, config, environ={SECRET_ENV: new_webhook_secret()})
    assert caught.value.key == "destinations.0.ca_file"
    assert caught.value.value == str(missing)
