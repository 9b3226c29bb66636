"""Channels through their seams: an httpx MockTransport, a fake resolver, a fake SMTP factory."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agent_platform.notifications.channels import EmailChannel, SlackChannel, WebhookChannel
from agent_platform.notifications.destinations import resolve_destinations
from agent_platform.notifications.http_sender import HttpSender
from agent_platform.notifications.outcome import OutcomeKind
from agent_platform.notifications.render import OutboundMessage, email_message, webhook_body
from agent_platform.notifications.smtp_connect import SmtpTarget
from agent_platform.notifications.ssrf import AddressGuard, AddressPolicy
from agent_platform.notifications.testing import verify_signature
from agent_platform.schemas.notifications import NotificationsConfig

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/topSECRETtoken"
MESSAGE = OutboundMessage(
    message_id="msg_01TEST",
    notification_id="ntf_01TEST",
    destination="hook",
    event_type="budget.threshold_crossed",
    correlation_id="corr-123",
    payload={"phase": 1, "spent_eur": 361.5, "note": "<b>&</b>"},
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    attempt=1,
)


def _resolved(destination: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    config = NotificationsConfig.model_validate({"destinations": [destination]})
    return resolve_destinations(config, environ=environ or {})[destination["name"]]


def _sender(handler: Any) -> HttpSender:
    return HttpSender(
        AddressPolicy(),
        transport=httpx.MockTransport(handler),
        resolver=lambda host, port: ["93.184.215.14"],
    )


def _hook_destination() -> Any:
    """The signed webhook destination the webhook tests send to."""
    return _resolved(
        {
            "name": "hook",
            "type": "webhook",
            "url": "https://hooks.example.org/in",
            "secret_env": "S",
        },
        {"S": SECRET},
    )


def _webhook(handler: Any) -> WebhookChannel:
    destination = _hook_destination()
    return WebhookChannel(destination, _sender(handler))


def test_webhook_is_signed_pinned_and_verifiable() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    outcome = _webhook(handler).send(MESSAGE)
    assert outcome.kind is OutcomeKind.DELIVERED
    (request,) = seen
    assert request.url.host == "93.184.215.14"
    assert request.headers["host"] == "hooks.example.org"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
    assert request.headers["webhook-id"] == "msg_01TEST"
    assert request.headers["webhook-signature"].startswith("v1,")
    headers = dict(request.headers)
    assert verify_signature(SECRET, request.content, headers)
    assert not verify_signature(SECRET, request.content.replace(b"361.5", b"999.9"), headers)
    body = json.loads(request.content)
    assert body["correlation_id"] == "corr-123"
    assert body["type"] == "budget.threshold_crossed"
    assert body["timestamp"] == "2026-01-02T03:04:05.000000Z"


def test_webhook_body_is_identical_across_attempts() -> None:
    retry = OutboundMessage(**{**MESSAGE.__dict__, "attempt": 5})
    assert webhook_body(MESSAGE) == webhook_body(retry)


def test_redirects_are_not_followed() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest"})

    outcome = _webhook(handler).send(MESSAGE)
    assert outcome.kind is OutcomeKind.FAILED
    assert "redirect not followed" in (outcome.error or "")
    assert len(calls) == 1


def test_timeouts_and_dropped_connections_are_transient() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    assert _webhook(timeout).send(MESSAGE).kind is OutcomeKind.RETRY
    assert _webhook(dropped).send(MESSAGE).kind is OutcomeKind.RETRY


def test_refused_address_never_reaches_the_transport() -> None:
    destination = _hook_destination()
    calls: list[httpx.Request] = []
    sender = HttpSender(
        AddressPolicy(),
        transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200)),
        resolver=lambda host, port: ["169.254.169.254"],
    )
    outcome = WebhookChannel(destination, sender).send(MESSAGE)
    assert outcome.kind is OutcomeKind.REFUSED
    assert "cloud metadata" in (outcome.error or "")
    assert calls == []


def test_slack_message_is_readable_and_errors_hide_the_url() -> None:
    destination = _resolved(
        {
            "name": "slack",
            "type": "slack",
            "url_env": "SLACK_URL",
            "link_template": "https://ui.example.org/runs/{correlation_id}",
        },
        {"SLACK_URL": SLACK_URL},
    )
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    assert SlackChannel(destination, _sender(handler)).send(MESSAGE).kind is OutcomeKind.DELIVERED
    text = bodies[0]["blocks"][0]["text"]["text"]
    assert "*budget.threshold_crossed*" in text
    assert "`corr-123`" in text
    assert "<https://ui.example.org/runs/corr-123|Open in agent-platform>" in text
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in text
    assert "corr-123" in bodies[0]["text"]

    def leaky(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {SLACK_URL}")

    failed = SlackChannel(destination, _sender(leaky)).send(MESSAGE)
    assert failed.kind is OutcomeKind.RETRY
    assert "topSECRETtoken" not in (failed.error or "")


def test_email_message_has_subject_both_bodies_and_stable_id() -> None:
    mail = email_message(MESSAGE, "ap@example.org", ["ops@example.org"])
    assert mail["Subject"] == "[agent-platform] budget.threshold_crossed (correlation id corr-123)"
    assert mail["Message-ID"] == "<msg_01TEST@agent-platform>"
    assert mail["X-Correlation-ID"] == "corr-123"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and "Correlation id: corr-123" in plain.get_content()
    assert html is not None and "&lt;b&gt;&amp;&lt;/b&gt;" in html.get_content()


class _FakeSmtp:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.logins: list[tuple[str, str]] = []

    def __enter__(self) -> _FakeSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self, context: object = None) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        self.logins.append((user, password))

    def send_message(self, mail: object) -> dict[str, object]:
        if self.error is not None:
            raise self.error
        return {}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (None, OutcomeKind.DELIVERED),
        (smtplib.SMTPResponseException(451, b"try later"), OutcomeKind.RETRY),
        (smtplib.SMTPResponseException(554, b"rejected"), OutcomeKind.FAILED),
        (smtplib.SMTPRecipientsRefused({"a@b.org": (550, b"no such user")}), OutcomeKind.FAILED),
        (smtplib.SMTPServerDisconnected("gone"), OutcomeKind.RETRY),
        (ConnectionRefusedError(111, "refused"), OutcomeKind.RETRY),
    ],
)
def test_email_outcomes(error: Exception | None, kind: OutcomeKind) -> None:
    destination = _resolved(
        {
            "name": "mail",
            "type": "email",
            "smtp_host": "smtp.example.org",
            "from_addr": "a@example.org",
            "to_addrs": ["b@example.org"],
            "username_env": "U",
            "password_env": "P",
        },
        {"U": "bot", "P": "pa55word-value"},
    )
    fake = _FakeSmtp(error)
    guard = AddressGuard(AddressPolicy(), lambda host, port: ["93.184.215.14"])
    targets: list[SmtpTarget] = []

    def factory(target: SmtpTarget) -> Any:
        targets.append(target)
        return fake

    outcome = EmailChannel(destination, guard, smtp_factory=factory).send(MESSAGE)
    assert outcome.kind is kind
    assert targets == [SmtpTarget("smtp.example.org", "93.184.215.14", 587, 5.0)]
    assert fake.logins == [("bot", "pa55word-value")]
    assert "pa55word-value" not in (outcome.error or "")
