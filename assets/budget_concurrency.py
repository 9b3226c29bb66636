"""Budget evidence under concurrency: 64 workers reserve at once on a nearly exhausted budget.

The driver is :mod:`agent_platform.evidence.workloads.budget_concurrency`; this asset gives it
a scratch database and the configured Redis, writes the CSV and records the manifest.
"""

from typing import Any

from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.concurrency import write
from agent_platform.evidence.workloads.budget_concurrency import (
    BURST,
    BurstResult,
    reservation_burst,
)
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["CONCURRENCY_KEY", "budget_concurrency", "concurrency_checks"]

CONCURRENCY_KEY = AssetKey(["budget_concurrency"])


def _measure(
    database: DatabaseResource, redis: RedisResource, tag: str, workers: int
) -> BurstResult:
    prefix = f"ev:{tag}:burst:"
    with database.scratch("burst") as engine:
        try:
            return reservation_burst(engine, redis.client, prefix, workers)
        finally:
            redis.purge(prefix)


def _summary(result: BurstResult) -> MetadataValue:
    attempts, held = result.attempts, sum(a.outcome == "held" for a in result.attempts)
    cap = attempts[0].cap_eur if attempts else 0.0
    spent = attempts[0].spent_before_eur if attempts else 0.0
    total = result.store_total_eur
    header = ("workers", "held", "refused", "spent before EUR", "after EUR", "cap EUR")
    row = (len(attempts), held, len(attempts) - held, f"{spent:.4f}", f"{total:.4f}", cap)
    return markdown_table(header, [row])


@asset(
    key=CONCURRENCY_KEY,
    group_name="finops",
    description="64 concurrent reservations on a nearly exhausted daily budget: holds vs cap.",
)
def budget_concurrency(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "budget_concurrency")
    result = _measure(database, redis, context.run.run_id[:8], sizes["workers"])
    finished = utc_now_iso()
    write(evidence.layout().path(paths.BUDGET_CONCURRENCY), *result.written(), finished)
    # One row per worker, plus the one ``store`` row read back from the budget store.
    declared = {"samples": {paths.BUDGET_CONCURRENCY: len(result.attempts) + 1}, "seed": None}
    finish(
        context,
        evidence,
        "budget_concurrency",
        started_at=started,
        finished_at=finished,
        sizes=sizes,
        backends={
            "database": database.backend,
            "budget_store": result.store_backend,
            "clock": "simulated",
        },
        declared={**declared, "burst": BURST.declared(sizes["workers"])},
    )
    metadata: dict[str, Any] = {"path": paths.BUDGET_CONCURRENCY, "burst": _summary(result)}
    figures = evidence_metadata(evidence.layout(), "budget_concurrency")
    return MaterializeResult(metadata={**metadata, **figures})


def concurrency_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The ``concurrent_*`` FinOps thresholds, on the burst."""
    mine = [t for t in contract.thresholds_for("finops") if t.figure.startswith("concurrent_")]
    return threshold_checks(CONCURRENCY_KEY, "budget_concurrency", mine)
