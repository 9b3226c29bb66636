"""What each channel sends, built without I/O: the webhook envelope, the Slack message, the e-mail.

Kept apart from the channels so the formats can be tested byte for byte and so a retry renders
exactly the same body (the webhook body is canonical JSON of the stored row).
"""

from __future__ import annotations

import email.utils
import html
import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from agent_platform.canonical import canonical_json
from agent_platform.notifications.ids import iso_utc

__all__ = [
    "OutboundMessage",
    "email_message",
    "email_subject",
    "slack_body",
    "webhook_body",
]

_MAX_FIELDS = 20
_MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class OutboundMessage:
    """One outbox row as the channels see it; ``message_id`` is the idempotency key."""

    message_id: str
    notification_id: str
    destination: str
    event_type: str
    correlation_id: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int


def webhook_body(message: OutboundMessage) -> bytes:
    """The Standard-Webhooks-shaped JSON body: ``type``, ``timestamp``, ``data`` and our ids."""
    return canonical_json(
        {
            "id": message.message_id,
            "type": message.event_type,
            "timestamp": iso_utc(message.created_at),
            "correlation_id": message.correlation_id,
            "notification_id": message.notification_id,
            "data": message.payload,
        }
    )


def _fields(payload: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key in sorted(payload)[:_MAX_FIELDS]:
        value = payload[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if len(text) > _MAX_VALUE_CHARS:
            text = text[: _MAX_VALUE_CHARS - 1] + "…"
        shown.append((str(key), text))
    return shown


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: OutboundMessage, link: str | None) -> bytes:
    """A readable Slack message: the event, the correlation id, the fields, a link if any."""
    event = _slack_escape(message.event_type)
    correlation = _slack_escape(message.correlation_id)
    lines = [f"*{event}*", f"correlation id: `{correlation}`", f"at {iso_utc(message.created_at)}"]
    lines += [f"• {_slack_escape(k)}: {_slack_escape(v)}" for k, v in _fields(message.payload)]
    if link:
        lines.append(f"<{link}|Open in agent-platform>")
    text = "\n".join(lines)
    body = {
        "text": f"{message.event_type} (correlation id {message.correlation_id})",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
    return canonical_json(body)


def email_subject(message: OutboundMessage) -> str:
    return f"[agent-platform] {message.event_type} (correlation id {message.correlation_id})"


def email_message(message: OutboundMessage, from_addr: str, to_addrs: list[str]) -> EmailMessage:
    """A multipart/alternative e-mail (plain text + HTML) whose Message-ID is the outbox id."""
    mail = EmailMessage()
    mail["Subject"] = email_subject(message)
    mail["From"] = from_addr
    mail["To"] = ", ".join(to_addrs)
    mail["Date"] = email.utils.format_datetime(message.created_at)
    mail["Message-ID"] = f"<{message.message_id}@agent-platform>"
    mail["X-Correlation-ID"] = message.correlation_id
    mail["X-Notification-ID"] = message.notification_id
    fields = _fields(message.payload)
    plain = [
        f"Event: {message.event_type}",
        f"Correlation id: {message.correlation_id}",
        f"Notification id: {message.notification_id}",
        f"Time (UTC): {iso_utc(message.created_at)}",
        "",
        *(f"{k}: {v}" for k, v in fields),
    ]
    mail.set_content("\n".join(plain) + "\n")
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in fields
    )
    mail.add_alternative(
        "<html><body>"
        f"<h2>{html.escape(message.event_type)}</h2>"
        f"<p>Correlation id: <code>{html.escape(message.correlation_id)}</code><br>"
        f"Notification id: <code>{html.escape(message.notification_id)}</code><br>"
        f"Time (UTC): {html.escape(iso_utc(message.created_at))}</p>"
        f"<table>{rows}</table></body></html>\n",
        subtype="html",
    )
    return mail
