"""The delivery channels: a Standard-Webhooks webhook, a Slack incoming webhook, SMTP e-mail.

Each channel turns one :class:`OutboundMessage` into one attempt and returns an
:class:`AttemptOutcome`; none retries by itself (the dispatcher owns retries, backoff and the
circuit). Each sits behind a narrow seam: HTTP channels share an :class:`HttpSender` (httpx
transport + resolver), e-mail takes an ``smtp_factory``. Every channel reaches its server only
through the sender's :class:`AddressGuard` (resolve once, refuse non-public addresses, pin), so
SMTP is held to the same SSRF policy as webhooks. Every error text passes through the
destination's redactor before it leaves the channel.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from standardwebhooks.webhooks import Webhook

from agent_platform.errors import DestinationError
from agent_platform.notifications.destinations import ResolvedDestination
from agent_platform.notifications.http_sender import HttpSender
from agent_platform.notifications.ids import utc_now
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.notifications.render import (
    OutboundMessage,
    email_message,
    slack_body,
    webhook_body,
)
from agent_platform.notifications.smtp_connect import SmtpFactory, SmtpTarget, connect_pinned
from agent_platform.notifications.ssrf import AddressGuard
from agent_platform.schemas.notifications import (
    EmailDestination,
    SlackDestination,
    WebhookDestination,
)

__all__ = [
    "Channel",
    "EmailChannel",
    "SlackChannel",
    "SmtpFactory",
    "WebhookChannel",
    "build_channel",
    "build_channels",
]

USER_AGENT = "agent-platform-notifier/0.1"


class Channel(Protocol):
    """One destination's way of making a single delivery attempt."""

    name: str

    def send(self, message: OutboundMessage) -> AttemptOutcome:
        """Attempt delivery once; never raises for a delivery failure."""
        ...


def _redacted(outcome: AttemptOutcome, destination: ResolvedDestination) -> AttemptOutcome:
    if outcome.error is None:
        return outcome
    return replace(outcome, error=destination.redactor(outcome.error))


class WebhookChannel:
    """JSON POST signed with ``webhook-id``/``webhook-timestamp``/``webhook-signature`` (v1)."""

    def __init__(
        self,
        destination: ResolvedDestination,
        sender: HttpSender,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not isinstance(destination.config, WebhookDestination) or not destination.secret:
            raise TypeError("WebhookChannel needs a resolved webhook destination with a secret")
        self.name = destination.name
        self._destination = destination
        self._config = destination.config
        self._signer = Webhook(destination.secret)
        self._sender = sender
        self._clock = clock

    def signed_headers(self, message: OutboundMessage, body: bytes) -> dict[str, str]:
        """The Standard-Webhooks headers for ``body``, signed at the current time."""
        now = self._clock()
        signature = self._signer.sign(message.message_id, now, body.decode("utf-8"))
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "x-correlation-id": message.correlation_id,
        }

    def send(self, message: OutboundMessage) -> AttemptOutcome:
        body = webhook_body(message)
        headers = self.signed_headers(message, body)
        url = self._destination.url or ""
        outcome = self._sender.post(
            url, body, headers, self._config.timeout_s, ssl_context=self._destination.ssl_context
        )
        return _redacted(outcome, self._destination)


class SlackChannel:
    """A Slack incoming webhook: a readable message with event, correlation id and link."""

    def __init__(self, destination: ResolvedDestination, sender: HttpSender) -> None:
        if not isinstance(destination.config, SlackDestination):
            raise TypeError("SlackChannel needs a resolved Slack destination")
        self.name = destination.name
        self._destination = destination
        self._config = destination.config
        self._sender = sender

    def link_for(self, message: OutboundMessage) -> str | None:
        template = self._config.link_template
        if template is None:
            return None
        return template.format(
            correlation_id=message.correlation_id,
            notification_id=message.notification_id,
            event_type=message.event_type,
        )

    def send(self, message: OutboundMessage) -> AttemptOutcome:
        body = slack_body(message, self.link_for(message))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "x-correlation-id": message.correlation_id,
        }
        url = self._destination.url or ""
        outcome = self._sender.post(
            url, body, headers, self._config.timeout_s, ssl_context=self._destination.ssl_context
        )
        return _redacted(outcome, self._destination)


def _text(reply: bytes | str) -> str:
    """A server reply as text (not ``repr``), so the redactor sees secrets it echoes verbatim."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class EmailChannel:
    """Plain-text + HTML e-mail over SMTP (STARTTLS or SMTPS when configured).

    The SMTP host is resolved and checked by ``guard`` on every attempt, and the connection
    goes to the checked address (a refused one is never connected to: the attempt is recorded
    as refused); TLS verifies the certificate against the configured host name.
    """

    def __init__(
        self,
        destination: ResolvedDestination,
        guard: AddressGuard,
        smtp_factory: SmtpFactory | None = None,
    ) -> None:
        if not isinstance(destination.config, EmailDestination):
            raise TypeError("EmailChannel needs a resolved e-mail destination")
        self.name = destination.name
        self._destination = destination
        self._config = destination.config
        self._guard = guard
        self._factory = smtp_factory or connect_pinned

    def _context(self) -> ssl.SSLContext:
        return self._destination.ssl_context or ssl.create_default_context()

    def _target(self) -> SmtpTarget:
        config = self._config
        address = self._guard.pin_host(config.smtp_host, config.smtp_port)
        tls = self._context() if config.smtps else None
        return SmtpTarget(config.smtp_host, address, config.smtp_port, config.timeout_s, tls)

    def send(self, message: OutboundMessage) -> AttemptOutcome:
        mail = email_message(message, self._config.from_addr, self._config.to_addrs)
        try:
            target = self._target()
        except DestinationError as exc:
            return _redacted(AttemptOutcome(OutcomeKind.REFUSED, error=str(exc)), self._destination)
        try:
            outcome = self._deliver(target, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = any(400 <= code < 500 for code in codes)
            kind = OutcomeKind.RETRY if transient else OutcomeKind.FAILED
            outcome = AttemptOutcome(kind, error=f"SMTP recipients refused: codes {codes}")
        except smtplib.SMTPResponseException as exc:
            kind = OutcomeKind.RETRY if 400 <= exc.smtp_code < 500 else OutcomeKind.FAILED
            outcome = AttemptOutcome(kind, error=f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
        except smtplib.SMTPNotSupportedError as exc:
            outcome = AttemptOutcome(OutcomeKind.FAILED, error=f"SMTP not supported: {exc}")
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            outcome = AttemptOutcome(OutcomeKind.RETRY, error=f"SMTP {type(exc).__name__}: {exc}")
        return _redacted(outcome, self._destination)

    def _deliver(self, target: SmtpTarget, mail: EmailMessage) -> AttemptOutcome:
        with self._factory(target) as smtp:
            if self._config.upgrade_with_starttls:
                smtp.starttls(context=self._context())
            if self._destination.username and self._destination.password:
                smtp.login(self._destination.username, self._destination.password)
            refused = smtp.send_message(mail)
        if refused:
            return AttemptOutcome(
                OutcomeKind.DELIVERED, error=f"accepted, but {len(refused)} recipient(s) refused"
            )
        return AttemptOutcome(OutcomeKind.DELIVERED)


def build_channel(
    destination: ResolvedDestination,
    *,
    sender: HttpSender,
    smtp_factory: SmtpFactory | None = None,
) -> Channel:
    """The channel for ``destination``'s type."""
    if isinstance(destination.config, WebhookDestination):
        return WebhookChannel(destination, sender)
    if isinstance(destination.config, SlackDestination):
        return SlackChannel(destination, sender)
    return EmailChannel(destination, sender.guard, smtp_factory)


def build_channels(
    destinations: Mapping[str, ResolvedDestination],
    *,
    sender: HttpSender,
    smtp_factory: SmtpFactory | None = None,
) -> dict[str, Channel]:
    """One channel per destination name."""
    return {
        name: build_channel(d, sender=sender, smtp_factory=smtp_factory)
        for name, d in destinations.items()
    }
