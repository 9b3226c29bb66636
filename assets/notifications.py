"""Notification evidence: real deliveries to loopback receivers the asset starts itself.

A webhook receiver (Standard-Webhooks signatures verified; a share of requests answered with
injected faults so retries are exercised), a Slack-style endpoint on the same server and an
SMTP server (aiosmtpd) run on 127.0.0.1 for the duration of the asset. Notifications go through
the real publisher (durable outbox in a scratch database) and dispatcher; every attempt, as the
outbox recorded it, becomes a row of ``notifications/delivery_log.csv``, and every published
(notification, destination) pair never attempted becomes a ``pending`` row. Each row's
``correlation_id`` is the id the receiver captured for its pair (webhook body and header,
Slack body and header, e-mail subject and body), not the outbox's own field.
"""

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.notifications import PENDING, DeliveryRow, write
from agent_platform.notifications.status import NotificationStatus
from agent_platform.notifications.testing import (
    ReceivedEmail,
    ReceivedRequest,
    SmtpReceiver,
    WebhookReceiver,
)
from agent_platform.schemas.notifications import NotificationsConfig
from assets._checks import threshold_checks
from assets._common import finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, NotificationResource

__all__ = [
    "NOTIFICATIONS_KEY",
    "Delivery",
    "deliver",
    "notification_checks",
    "notification_delivery_log",
]

NOTIFICATIONS_KEY = AssetKey(["notification_delivery_log"])
FAULT_RATE = 0.3  # DESIGN: 30 % of first attempts fail; retries still deliver every pair
_HOOK_PATH = "/hook"
_SUBJECT_ID = re.compile(r"\(correlation id ([^()\s]+)\)")
_BODY_ID = re.compile(r"^Correlation id: (\S+)$", re.MULTILINE)
_NOTIFICATION_ID = re.compile(r"^Notification id: (\S+)$", re.MULTILINE)
_DISPATCH_BUDGET_S = 60.0
_CHANNELS = {"evidence-webhook": "webhook", "evidence-slack": "slack", "evidence-email": "email"}


def _config(hook_url: str, slack_url: str, smtp_port: int) -> NotificationsConfig:
    return NotificationsConfig.model_validate(
        {
            "retry": {"max_attempts": 10, "base_s": 0.01, "cap_s": 0.2},
            "circuit": {"failure_threshold": 50, "open_s": 0.1},
            "dispatcher": {
                "batch_size": 100,
                "lease_s": 30,
                "poll_interval_s": 0.02,
                "max_workers": 8,
            },
            "security": {"allow_cidrs": ["127.0.0.1/32"]},
            "destinations": [
                {
                    "name": "evidence-webhook",
                    "type": "webhook",
                    "url": hook_url,
                    "secret_env": "EVIDENCE_WEBHOOK_SECRET",
                    "timeout_s": 2,
                },
                {"name": "evidence-slack", "type": "slack", "url": slack_url, "timeout_s": 2},
                {
                    "name": "evidence-email",
                    "type": "email",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "starttls": False,
                    "from_addr": "evidence@agent-platform.test",
                    "to_addrs": ["finops@agent-platform.test"],
                    "timeout_s": 5,
                },
            ],
        }
    )


def _ms_between(start: str | None, end: str | None) -> float:
    if start is None or end is None:
        return 0.0
    parse = datetime.fromisoformat
    delta = parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    return max(0.0, delta.total_seconds() * 1000.0)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _captured_http(
    requests: list[ReceivedRequest], by_correlation: dict[str, str]
) -> dict[tuple[str, str], str]:
    """(destination, notification id) -> correlation id, for every request the webhook
    receiver captured whose body and ``x-correlation-id`` header carry the same id."""
    out: dict[tuple[str, str], str] = {}
    for request in requests:
        body, header = _json_object(request.body), request.headers.get("x-correlation-id", "")
        if request.path == _HOOK_PATH:
            carried, nid = str(body.get("correlation_id", "")), str(body.get("notification_id"))
            name = "evidence-webhook"
        else:
            found = _SUBJECT_ID.search(str(body.get("text", "")))
            carried = found.group(1) if found else ""
            nid, name = by_correlation.get(carried, ""), "evidence-slack"
        if carried and carried == header:
            out[(name, nid)] = carried
    return out


def _captured_email(messages: list[ReceivedEmail]) -> dict[tuple[str, str], str]:
    """(destination, notification id) -> correlation id, for every e-mail whose subject and
    plain-text body carry the same id."""
    out: dict[tuple[str, str], str] = {}
    for mail in messages:
        subject, text = _SUBJECT_ID.search(mail.subject), mail.body().replace("\r\n", "\n")
        in_body, nid = _BODY_ID.search(text), _NOTIFICATION_ID.search(text)
        if subject and in_body and nid and subject.group(1) == in_body.group(1):
            out[("evidence-email", nid.group(1))] = subject.group(1)
    return out


def _pair_rows(
    status: NotificationStatus, destination: str, captured: dict[tuple[str, str], str]
) -> list[DeliveryRow]:
    """The rows of one published pair: its attempts, or one ``pending`` row."""
    received = captured.get((destination, status.notification_id), "")
    published = status.correlation_id or ""
    delivered_at = {d.destination: d.delivered_at for d in status.destinations}
    base = DeliveryRow(
        timestamp=status.created_at or "",
        destination=destination,
        correlation_id=received,
        status=PENDING,
        latency_ms=0.0,
        attempt=0,
        notification_id=status.notification_id,
        channel=_CHANNELS.get(destination, ""),
        end_to_end_ms=0.0,
        published_correlation_id=published,
    )
    attempts = [a for a in status.attempts if a.destination == destination]
    return [
        replace(
            base,
            timestamp=a.timestamp,
            status=a.status,
            latency_ms=a.latency_ms,
            attempt=a.attempt,
            end_to_end_ms=_ms_between(
                status.created_at,
                (delivered_at.get(destination) if a.status == "delivered" else None) or a.timestamp,
            ),
        )
        for a in attempts
    ] or [base]


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` did: the log rows and how many pairs were published."""

    rows: list[DeliveryRow]
    published: int
    destinations: int

    @property
    def published_pairs(self) -> int:
        return self.published * self.destinations


def deliver(
    database: DatabaseResource, notifications: NotificationResource, count: int
) -> Delivery:
    """Publish ``count`` events to three loopback destinations and deliver them for real."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")
    environ = {"EVIDENCE_WEBHOOK_SECRET": secret}
    with WebhookReceiver(secret=secret, unsigned_paths=["/slack"]) as hooks, SmtpReceiver() as smtp:
        hooks.set_fault_rate(FAULT_RATE, kinds=("500", "drop"), seed=7)
        config = _config(hooks.url(_HOOK_PATH), hooks.url("/slack"), smtp.port)
        with database.scratch("notify") as engine:
            publisher = notifications.publisher(engine, config, environ=environ)
            published = {f"ev-{uuid.uuid4().hex}": n for n in range(count)}
            by_correlation = {
                cid: publisher.publish(
                    "evidence.probe",
                    {"sequence": n, "purpose": "G1 delivery evidence"},
                    correlation_id=cid,
                )
                for cid, n in published.items()
            }
            with notifications.dispatcher(engine, config, environ=environ) as dispatcher:
                dispatcher.run(until_idle=True, max_seconds=_DISPATCH_BUDGET_S)
            statuses = [publisher.get_delivery_status(i) for i in by_correlation.values()]
        captured = _captured_http(hooks.requests(), by_correlation)
        captured.update(_captured_email(smtp.messages()))
    names = [d.name for d in config.destinations]
    rows = [row for st in statuses for name in names for row in _pair_rows(st, name, captured)]
    return Delivery(rows, len(statuses), len(names))


@asset(
    key=NOTIFICATIONS_KEY,
    group_name="notifications",
    description="Every delivery attempt to loopback webhook, Slack-style and SMTP receivers.",
)
def notification_delivery_log(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    notifications: NotificationResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "notifications")
    delivery = deliver(database, notifications, sizes["notifications"])
    rows = delivery.rows
    finished = utc_now_iso()
    written = write(evidence.layout().path(paths.DELIVERY_LOG), rows)
    sizes_recorded: dict[str, Any] = {
        **sizes,
        "published": delivery.published,
        "destinations": delivery.destinations,
        "published_pairs": delivery.published_pairs,
        "pending_pairs": sum(r.status == PENDING for r in rows),
        "fault_rate": FAULT_RATE,
    }
    finish(
        context,
        evidence,
        "notifications",
        started_at=started,
        finished_at=finished,
        sizes=sizes_recorded,
        backends={"database": database.backend, "receivers": "loopback"},
    )
    per_channel = []
    for name, channel in _CHANNELS.items():
        mine = [r for r in rows if r.destination == name and r.status != PENDING]
        delivered = sum(r.status == "delivered" for r in mine)
        pending = sum(r.destination == name and r.status == PENDING for r in rows)
        per_channel.append((channel, len(mine), delivered, len(mine) - delivered, pending))
    delivered_rows = [r.end_to_end_ms for r in rows if r.status == "delivered"]
    return MaterializeResult(
        metadata={
            "path": paths.DELIVERY_LOG,
            "rows": written,
            "attempts per channel": markdown_table(
                ("channel", "attempts", "delivered", "retried/failed", "never attempted"),
                per_channel,
            ),
            "end-to-end latency": latency_markdown({"delivery": delivered_rows}),
        }
    )


def notification_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The notification thresholds of the contract, as blocking checks."""
    return threshold_checks(
        NOTIFICATIONS_KEY, "notifications", contract.thresholds_for("notifications")
    )
