"""The schedule that re-runs the gate every day, built by a factory that takes the job."""

from dagster import DefaultScheduleStatus, ScheduleDefinition
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

__all__ = ["build_daily_schedule"]


def build_daily_schedule(
    job: UnresolvedAssetJobDefinition,
    cron: str = "0 4 * * *",
    timezone: str = "Europe/Berlin",
) -> ScheduleDefinition:
    """Run ``job`` once a day (04:00 Berlin time by default)."""
    return ScheduleDefinition(
        name=f"{job.name}_daily",
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Re-measure every workload and recompute the G1 gate once a day.",
    )
