"""Notification evidence: real deliveries under the shipped config to faulting loopback receivers.

The driver is :mod:`agent_platform.evidence.workloads.notifications`; this asset gives it a
scratch database and the configuration the notification resource carries
(``configs/notifications.yaml`` as shipped), writes ``notifications/delivery_log.csv`` and
records the manifest with the plan, the fault mix, the seed and the configuration it ran.
"""

from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.notifications import DELIVERED, PENDING, DeliveryRow, write
from agent_platform.evidence.workloads.notifications import NotificationPlan, deliver
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, NotificationResource

__all__ = ["NOTIFICATIONS_KEY", "notification_checks", "notification_delivery_log"]

NOTIFICATIONS_KEY = AssetKey(["notification_delivery_log"])


def _per_channel(rows: list[DeliveryRow]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for channel in sorted({r.channel for r in rows}):
        mine = [r for r in rows if r.channel == channel]
        tried = [r for r in mine if r.status != PENDING]
        delivered = sum(r.status == DELIVERED for r in tried)
        out.append((channel, len(tried), delivered, len(tried) - delivered, len(mine) - len(tried)))
    return out


def _metadata(rows: list[DeliveryRow], written: int) -> dict[str, Any]:
    header = ("channel", "attempts", "delivered", "retried/failed", "never attempted")
    delivered = [r.end_to_end_ms for r in rows if r.status == DELIVERED]
    return {
        "path": paths.DELIVERY_LOG,
        "rows": written,
        "attempts per channel": markdown_table(header, _per_channel(rows)),
        "end-to-end latency (compressed run, wall clock)": latency_markdown(
            {"delivery": delivered}
        ),
    }


@asset(
    key=NOTIFICATIONS_KEY,
    group_name="notifications",
    description="Every delivery attempt to faulting loopback webhook, Slack-style and SMTP receivers.",
)
def notification_delivery_log(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    notifications: NotificationResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "notifications")
    plan, shipped = NotificationPlan(events=sizes["notifications"]), notifications.load_config()
    with database.scratch("notify") as engine:
        delivery = deliver(engine, shipped, plan)
    finished = utc_now_iso()
    written = write(evidence.layout().path(paths.DELIVERY_LOG), delivery.rows)
    declared = {"samples": {paths.DELIVERY_LOG: written}, **plan.declared(shipped)}
    recorded = {**sizes, "published_pairs": delivery.published_pairs}
    backends = {"database": database.backend, "receivers": "loopback", "clock": "compressed"}
    finish(
        context,
        evidence,
        "notifications",
        started_at=started,
        finished_at=finished,
        sizes=recorded,
        backends=backends,
        declared=declared,
    )
    metadata = _metadata(delivery.rows, written)
    return MaterializeResult(
        metadata={**metadata, **evidence_metadata(evidence.layout(), "notifications")}
    )


def notification_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The notification thresholds of the contract, as blocking checks."""
    return threshold_checks(
        NOTIFICATIONS_KEY, "notifications", contract.thresholds_for("notifications")
    )
