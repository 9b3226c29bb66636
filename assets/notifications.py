"""Notification evidence: real deliveries to loopback receivers the asset starts itself.

A webhook receiver (Standard-Webhooks signatures verified; a share of requests answered with
injected faults so retries are exercised), a Slack-style endpoint on the same server and an
SMTP server (aiosmtpd) run on 127.0.0.1 for the duration of the asset. Notifications go through
the real publisher (durable outbox in a scratch database) and dispatcher; every attempt, as the
outbox recorded it, becomes a row of ``notifications/delivery_log.csv``.
"""

import base64
import os
import uuid
from datetime import datetime
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.notifications import DeliveryRow, write
from agent_platform.notifications import NotificationPublisher
from agent_platform.notifications.testing import SmtpReceiver, WebhookReceiver
from agent_platform.schemas.notifications import NotificationsConfig
from assets._checks import threshold_checks
from assets._common import finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, NotificationResource

__all__ = ["NOTIFICATIONS_KEY", "notification_checks", "notification_delivery_log"]

NOTIFICATIONS_KEY = AssetKey(["notification_delivery_log"])
FAULT_RATE = 0.2
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


def _rows(publisher: NotificationPublisher, ids: list[str]) -> list[DeliveryRow]:
    rows: list[DeliveryRow] = []
    for notification_id in ids:
        status = publisher.get_delivery_status(notification_id)
        delivered_at = {d.destination: d.delivered_at for d in status.destinations}
        for attempt in status.attempts:
            done = delivered_at.get(attempt.destination) if attempt.status == "delivered" else None
            rows.append(
                DeliveryRow(
                    timestamp=attempt.timestamp,
                    destination=attempt.destination,
                    correlation_id=status.correlation_id or "",
                    status=attempt.status,
                    latency_ms=attempt.latency_ms,
                    attempt=attempt.attempt,
                    notification_id=notification_id,
                    channel=_CHANNELS.get(attempt.destination, ""),
                    end_to_end_ms=_ms_between(status.created_at, done or attempt.timestamp),
                )
            )
    return rows


def deliver(
    database: DatabaseResource, notifications: NotificationResource, count: int
) -> list[DeliveryRow]:
    """Publish ``count`` events to three loopback destinations and deliver them for real."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")
    environ = {"EVIDENCE_WEBHOOK_SECRET": secret}
    with WebhookReceiver(secret=secret, unsigned_paths=["/slack"]) as hooks, SmtpReceiver() as smtp:
        hooks.set_fault_rate(FAULT_RATE, kinds=("500", "drop"), seed=7)
        config = _config(hooks.url("/hook"), hooks.url("/slack"), smtp.port)
        with database.scratch("notify") as engine:
            publisher = notifications.publisher(engine, config, environ=environ)
            ids = [
                publisher.publish(
                    "evidence.probe",
                    {"sequence": n, "purpose": "G1 delivery evidence"},
                    correlation_id=f"ev-{uuid.uuid4().hex}",
                )
                for n in range(count)
            ]
            with notifications.dispatcher(engine, config, environ=environ) as dispatcher:
                dispatcher.run(until_idle=True, max_seconds=_DISPATCH_BUDGET_S)
            return _rows(publisher, ids)


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
    rows = deliver(database, notifications, sizes["notifications"])
    finished = utc_now_iso()
    written = write(evidence.layout().path(paths.DELIVERY_LOG), rows)
    sizes_recorded: dict[str, Any] = {
        **sizes,
        "destinations": len(_CHANNELS),
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
        mine = [r for r in rows if r.destination == name]
        delivered = sum(r.status == "delivered" for r in mine)
        per_channel.append((channel, len(mine), delivered, len(mine) - delivered))
    delivered_rows = [r.end_to_end_ms for r in rows if r.status == "delivered"]
    return MaterializeResult(
        metadata={
            "path": paths.DELIVERY_LOG,
            "rows": written,
            "attempts per channel": markdown_table(
                ("channel", "attempts", "delivered", "retried/failed"), per_channel
            ),
            "end-to-end latency": latency_markdown({"delivery": delivered_rows}),
        }
    )


def notification_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The notification thresholds of the contract, as blocking checks."""
    return threshold_checks(
        NOTIFICATIONS_KEY, "notifications", contract.thresholds_for("notifications")
    )
