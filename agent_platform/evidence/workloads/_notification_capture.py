"""What the loopback receivers saw, per (destination, notification): the receiver's side.

The notification workload never takes the outbox's word for what arrived: the correlation id of
a pair is the one its receiver captured (webhook body and header, Slack body and header, e-mail
subject and body), and a pair counts as refused by the receiver when the SMTP receiver answered
one of its messages with a permanent (5xx) reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent_platform.notifications.testing import ReceivedEmail, ReceivedRequest, SmtpFault

__all__ = [
    "HOOK_PATH",
    "SLACK_PATH",
    "ReceiverEvents",
    "captured_email",
    "captured_http",
    "email_faults",
    "http_faults",
]

HOOK_PATH = "/hook"
SLACK_PATH = "/slack"
_SUBJECT_ID = re.compile(r"\(correlation id ([^()\s]+)\)")
_BODY_ID = re.compile(r"^Correlation id: (\S+)$", re.MULTILINE)
_NOTIFICATION_ID = re.compile(r"^Notification id: (\S+)$", re.MULTILINE)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def captured_http(
    requests: list[ReceivedRequest], by_correlation: Mapping[str, str], names: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """(destination, notification id) -> correlation id, for every request the webhook
    receiver accepted whose body and ``x-correlation-id`` header carry the same id.

    ``names`` maps a receiver path to the destination posting to it.
    """
    out: dict[tuple[str, str], str] = {}
    for request in requests:
        if not request.delivered or request.path not in names:
            continue
        body, header = _json_object(request.body), request.headers.get("x-correlation-id", "")
        if request.path == HOOK_PATH:
            carried, nid = str(body.get("correlation_id", "")), str(body.get("notification_id"))
        else:
            found = _SUBJECT_ID.search(str(body.get("text", "")))
            carried = found.group(1) if found else ""
            nid = by_correlation.get(carried, "")
        if carried and carried == header:
            out[(names[request.path], nid)] = carried
    return out


def _ids(subject: str, message_text: str) -> tuple[str, str] | None:
    """(notification id, correlation id) of an e-mail whose subject and body agree."""
    text = message_text.replace("\r\n", "\n")
    in_subject, in_body = _SUBJECT_ID.search(subject), _BODY_ID.search(text)
    nid = _NOTIFICATION_ID.search(text)
    if in_subject and in_body and nid and in_subject.group(1) == in_body.group(1):
        return nid.group(1), in_subject.group(1)
    return None


def captured_email(messages: list[ReceivedEmail], name: str) -> dict[tuple[str, str], str]:
    """(destination, notification id) -> correlation id, for every accepted e-mail whose
    subject and plain-text body carry the same id."""
    out: dict[tuple[str, str], str] = {}
    for mail in messages:
        ids = _ids(mail.subject, mail.body())
        if ids is not None:
            out[(name, ids[0])] = ids[1]
    return out


ReceiverEvents = dict[tuple[str, str], list[tuple[datetime, str]]]


def http_faults(
    requests: list[ReceivedRequest], by_correlation: Mapping[str, str], names: Mapping[str, str]
) -> ReceiverEvents:
    """(destination, notification id) -> when each request of the pair arrived and the fault
    the receiver injected into it (``""`` for none)."""
    out: ReceiverEvents = {}
    for request in requests:
        if request.path not in names:
            continue
        nid = by_correlation.get(request.headers.get("x-correlation-id", ""), "")
        out.setdefault((names[request.path], nid), []).append(
            (request.received_at, request.fault or "")
        )
    return out


def email_faults(
    faults: list[SmtpFault], messages: list[ReceivedEmail], name: str
) -> ReceiverEvents:
    """(destination, notification id) -> when each message of the pair reached the end of
    DATA and the fault the SMTP receiver injected into it (``""`` for one it accepted)."""
    events: list[tuple[datetime, str, str]] = []
    for fault in faults:
        part = fault.message.get_body(preferencelist=("plain",))
        text = "" if part is None else str(part.get_content())
        ids = _ids(str(fault.message["Subject"]).strip(), text)
        if ids is not None:
            events.append((fault.received_at, ids[0], fault.kind))
    for mail in messages:
        ids = _ids(mail.subject, mail.body())
        if ids is not None:
            events.append((mail.received_at, ids[0], ""))
    out: ReceiverEvents = {}
    for when, nid, kind in sorted(events, key=lambda e: e[0]):
        out.setdefault((name, nid), []).append((when, kind))
    return out
