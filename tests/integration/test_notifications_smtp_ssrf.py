"""E-mail goes through the same SSRF guard as webhooks, against real sockets and real SMTP servers.

A refused SMTP host is never connected to (a real listening socket proves it); an allow-listed
one receives the mail on a real aiosmtpd server, over a connection pinned to the checked address
while TLS verifies the certificate against the configured name. Link-local and metadata
addresses stay refused whatever the allow-list says, for SMTP, webhooks and Slack alike.
Names under ``.test`` never resolve through the system, so only the test's resolver can make
them reach anything: a connection that works proves the pinned address was used.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, NotificationPublisher, NotificationStatus
from agent_platform.schemas.notifications import NotificationsConfig
from tests.support.receivers import SmtpReceiver, fast_config, new_webhook_secret, self_signed_tls

if TYPE_CHECKING:
    from agent_platform.notifications.smtp_connect import SmtpTarget

NO_ALLOW_LIST = {"allow_cidrs": [], "allow_hosts": []}


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


def mail_to(host: str, port: int = 25, name: str = "mail", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "email",
        "smtp_host": host,
        "smtp_port": port,
        "starttls": False,
        "from_addr": "agent-platform@example.org",
        "to_addrs": ["finops@example.org"],
        "timeout_s": 5,
        **extra,
    }


class MapResolver:
    """Resolves the names it is given (and nothing else), counting every look-up."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return self.answers[host]


def deliver(
    engine: Engine, config: NotificationsConfig, env: dict[str, str] | None = None, **kw: Any
) -> NotificationStatus:
    """Publish one event, drain the outbox, return the notification's status."""
    publisher = NotificationPublisher(engine, config, environ=env or {})
    notification = publisher.publish("budget.threshold_crossed", {"spent_eur": 12.5})
    with Dispatcher(engine, config, environ=env or {}, rng=random.Random(1), **kw) as dispatcher:
        dispatcher.run(until_idle=True, max_seconds=30)
    return publisher.get_delivery_status(notification)


def assert_refused(status: NotificationStatus, expected: int, reason: str) -> None:
    """Exactly one attempt per destination, each recorded as refused with ``reason``."""
    assert [a.status for a in status.attempts] == ["refused"] * expected
    assert {d.status for d in status.destinations} == {"failed"}
    assert all(reason in (a.error or "") for a in status.attempts), status.attempts


def test_smtp_to_loopback_is_refused_by_default_without_connecting(engine: Engine) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        destinations = [mail_to("127.0.0.1", port), mail_to("localhost", port, name="by-name")]
        status = deliver(engine, fast_config(destinations, security=NO_ALLOW_LIST))
        listener.setblocking(False)
        # The kernel completes a TCP handshake even before accept(): an empty queue here
        # means no connection was ever opened to the port.
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert_refused(status, 2, "loopback")


def test_smtp_allow_listed_by_cidr_reaches_a_real_server(engine: Engine) -> None:
    with SmtpReceiver() as smtp:
        config = fast_config(
            [mail_to("127.0.0.1", smtp.port)], security={"allow_cidrs": ["127.0.0.0/8"]}
        )
        status = deliver(engine, config)
        assert smtp.wait_for(1, timeout=5)
    assert status.delivered
    assert [a.status for a in status.attempts] == ["delivered"]


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_smtp_allow_listed_by_host_is_pinned_and_verified_by_name(
    engine: Engine, tmp_path: Path, mode: str
) -> None:
    host = "mail.internal.test"
    context, cert = self_signed_tls(tmp_path / "tls", names=[host])  # no IP in the certificate
    resolver = MapResolver({host: ["127.0.0.1"]})
    implicit = mode == "smtps"
    receiver = SmtpReceiver(
        tls_context=context, require_starttls=not implicit, implicit_tls=implicit
    )
    with receiver as smtp:
        tls = {"smtps": True} if implicit else {"starttls": True}
        destination = mail_to(host, smtp.port, ca_file=str(cert), **tls)
        config = fast_config([destination], security={"allow_hosts": [host], "allow_cidrs": []})
        status = deliver(engine, config, resolver=resolver)
        assert smtp.wait_for(1, timeout=5)
        (mail,) = smtp.messages()
    assert status.delivered and mail.tls
    assert resolver.calls == [host]  # resolved once, by the guard; smtplib connected to the IP


def test_smtp_certificate_for_another_name_is_rejected(engine: Engine, tmp_path: Path) -> None:
    host = "mail.internal.test"
    context, cert = self_signed_tls(tmp_path / "tls", names=["other.test", "127.0.0.1"])
    with SmtpReceiver(tls_context=context, require_starttls=True) as smtp:
        destination = mail_to(host, smtp.port, ca_file=str(cert), starttls=True)
        config = fast_config(
            [destination], security={"allow_hosts": [host]}, retry={"max_attempts": 1}
        )
        status = deliver(engine, config, resolver=MapResolver({host: ["127.0.0.1"]}))
        assert smtp.messages() == []
    (attempt,) = status.attempts
    assert attempt.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in (attempt.error or "")


class NoConnection:
    """An SMTP factory that records every connection asked of it (none may be)."""

    def __init__(self) -> None:
        self.targets: list[SmtpTarget] = []

    def __call__(self, target: SmtpTarget) -> Any:
        self.targets.append(target)
        raise AssertionError(f"connected to {target}")


METADATA_ANSWERS = {
    "imds.test": ["169.254.169.254"],
    "link-local.test": ["169.254.10.20"],
    "mapped.test": ["::ffff:169.254.169.254"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.test": ["2002:a9fe:a9fe::1"],
    "ipv6-link-local.test": ["fe80::1"],
    "aws-ipv6.test": ["fd00:ec2::254"],
    "alibaba.test": ["100.100.100.200"],
    "alibaba-nat64.test": ["64:ff9b::6464:64c8"],
    "mixed.test": ["127.0.0.1", "169.254.169.254"],
}
EVERYTHING = {"allow_cidrs": ["0.0.0.0/0", "::/0"]}


def test_smtp_to_metadata_or_link_local_is_refused_even_when_allow_listed(engine: Engine) -> None:
    names = [*METADATA_ANSWERS, "metadata.google.internal", "Metadata.Google.Internal."]
    resolver = MapResolver(METADATA_ANSWERS)
    factory = NoConnection()
    destinations = [mail_to(host, name=f"m{i}") for i, host in enumerate(names)]
    security = {**EVERYTHING, "allow_hosts": list(METADATA_ANSWERS)}
    config = fast_config(destinations, security=security)
    status = deliver(engine, config, resolver=resolver, smtp_factory=factory)
    assert factory.targets == []
    assert_refused(status, len(names), "never reachable")
    # A metadata service's name is refused before it is resolved.
    assert "metadata.google.internal" not in {c.lower().rstrip(".") for c in resolver.calls}


def test_smtp_host_resolving_to_a_private_address_is_refused(engine: Engine) -> None:
    answers = {"mail.corp.test": ["10.0.0.25"], "mail.ula.test": ["fd12:3456::25"]}
    factory = NoConnection()
    destinations = [mail_to(host, name=f"m{i}") for i, host in enumerate(answers)]
    config = fast_config(destinations, security=NO_ALLOW_LIST)
    status = deliver(engine, config, resolver=MapResolver(answers), smtp_factory=factory)
    assert factory.targets == []
    assert_refused(status, 2, "private address")


def test_webhook_and_slack_to_metadata_are_refused_even_when_allow_listed(engine: Engine) -> None:
    secret = new_webhook_secret()
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    destinations: list[dict[str, Any]] = []
    for i, host in enumerate(METADATA_ANSWERS):
        url = f"http://{host}/hook"
        destinations.append({"name": f"w{i}", "type": "webhook", "url": url, "secret_env": "S"})
        destinations.append({"name": f"s{i}", "type": "slack", "url": url})
    literal = "http://[::ffff:169.254.169.254]/latest/meta-data/"
    destinations.append({"name": "literal", "type": "webhook", "url": literal, "secret_env": "S"})
    security = {**EVERYTHING, "allow_hosts": list(METADATA_ANSWERS)}
    config = fast_config(destinations, security=security)
    status = deliver(
        engine,
        config,
        {"S": secret},
        resolver=MapResolver(METADATA_ANSWERS),
        transport=httpx.MockTransport(record),
    )
    assert sent == []
    assert_refused(status, len(destinations), "never reachable")
