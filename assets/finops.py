"""FinOps evidence: a month of synthetic spend replayed through the real budget guardian.

The workload (:mod:`agent_platform.evidence.workloads.finops`) replays the month in a scratch
database (commits not waiting for the WAL flush on PostgreSQL: the replay reports decisions,
not timings) and under a run-private Redis prefix when Redis is configured; this asset writes
the daily report, the alerts and the store's window table, and records what the run declares.
"""

from dataclasses import asdict
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats import finops as fmt
from agent_platform.evidence.workloads.finops import (
    DEMAND,
    MONTH_START,
    FinOpsOutcome,
    ReplayConfig,
    load_configs,
    run_finops_month,
)
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["FINOPS_KEY", "budget_report", "finops_checks"]

FINOPS_KEY = AssetKey(["budget_report"])


def _write(evidence: EvidenceResource, outcome: FinOpsOutcome) -> dict[str, int]:
    """Write the three files; returns the sample rows of each."""
    layout = evidence.layout()
    return {
        paths.BUDGET_REPORT: fmt.write_report(
            layout.path(paths.BUDGET_REPORT), outcome.replay.days
        ),
        paths.BUDGET_ALERTS: fmt.write_alerts(layout.path(paths.BUDGET_ALERTS), outcome.alerts),
        paths.BUDGET_WINDOWS: fmt.write_windows(layout.path(paths.BUDGET_WINDOWS), outcome.windows),
    }


def _replay(
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
    config: ReplayConfig,
    tag: str,
) -> FinOpsOutcome:
    """The month replayed on a scratch database (no WAL-flush wait) and a run-private prefix."""
    finops, routing = load_configs(evidence.project_root())
    prefix = f"ev:{tag}:finops:"
    with database.scratch("finops", durable=False) as engine:
        try:
            return run_finops_month(
                engine, finops, routing, config, redis_client=redis.client, redis_prefix=prefix
            )
        finally:
            redis.purge(prefix)


def _day_rows(outcome: FinOpsOutcome) -> list[tuple[object, ...]]:
    return [
        (d.date, f"{d.daily_spend_eur:.2f}", f"{d.monthly_spend_eur:.2f}", d.rejected,
         d.over_reserve, d.past_cap)
        for d in outcome.replay.days
    ]  # fmt: skip


def _metadata(outcome: FinOpsOutcome, lead: dict[str, float | int | str]) -> dict[str, Any]:
    lead_figures = (
        "alert_lead_time_hours",
        "threshold_lead_time_hours",
        "projected_lead_time_hours",
    )
    windows = [
        (w.window, f"{w.cap_eur:.0f}", f"{w.committed_eur:.2f}", w.breached)
        for w in outcome.windows
    ]
    lead_columns = ("forecast alert -> cap refusal", "80 % alert -> cap refusal", "projected")
    day_columns = ("date", "day EUR", "month EUR", "refused", "over hold", "past cap")
    return {
        "path": paths.BUDGET_REPORT,
        "lead times (simulated hours)": markdown_table(
            lead_columns, [tuple(lead[f] for f in lead_figures)]
        ),
        "days": markdown_table(day_columns, _day_rows(outcome)),
        "windows (store)": markdown_table(("window", "cap", "committed", "breached"), windows),
    }


@asset(
    key=FINOPS_KEY,
    group_name="finops",
    description="A replayed month of spend against the phase caps: alerts, overruns, breaches.",
)
def budget_report(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "finops")
    config = ReplayConfig(days=sizes["days"])
    outcome = _replay(evidence, database, redis, config, context.run.run_id[:8])
    samples = _write(evidence, outcome)
    lead = fmt.alert_figures(evidence.layout().path(paths.BUDGET_ALERTS))
    replay = outcome.replay
    finish(
        context, evidence, "finops", started_at=started, finished_at=utc_now_iso(),
        sizes={**sizes, "requests": replay.requests, "rejected": replay.rejected,
               "lead_time": fmt.lead_time_label(lead["alert_lead_time_basis"])},
        backends={"database": database.backend, "budget_store": outcome.store_backend,
                  "clock": "simulated"},
        declared={"samples": samples, "seed": config.seed, "config": {
            **asdict(config), "simulated_month": MONTH_START.isoformat(),
            "demand_x_daily_cap": DEMAND}},
    )  # fmt: skip
    figures = evidence_metadata(evidence.layout(), "finops")
    return MaterializeResult(metadata={**_metadata(outcome, lead), **figures})


def finops_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The month replay's FinOps thresholds (the ``concurrent_*`` ones belong to the burst)."""
    mine = [t for t in contract.thresholds_for("finops") if not t.figure.startswith("concurrent_")]
    return threshold_checks(FINOPS_KEY, "finops", mine)
