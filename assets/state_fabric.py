"""State fabric evidence: the declared access pattern through the real repository and ledger.

The driver is :mod:`agent_platform.evidence.workloads.state_fabric`; this asset gives it a
scratch database and the configured cache, writes the CSV and records the manifest with the
pattern it ran (sessions, Zipf exponent, write share, TTL, seed) and the samples it wrote.
"""

from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.state import write
from agent_platform.evidence.workloads.state_fabric import (
    AccessPattern,
    StateFabricRun,
    run_state_fabric,
)
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, latency_markdown, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["STATE_KEY", "state_cache_latency", "state_checks"]

STATE_KEY = AssetKey(["state_cache_latency"])


def _measure(
    database: DatabaseResource, redis: RedisResource, pattern: AccessPattern, tag: str
) -> StateFabricRun:
    prefix = f"ev:{tag}:state:"
    with database.scratch("state") as engine:
        cache = redis.cache(prefix)
        try:
            return run_state_fabric(engine, cache, pattern, tag=tag)
        finally:
            cache.close()
            redis.purge(prefix)


def _latencies(run: StateFabricRun) -> dict[str, list[float]]:
    ops = ("get", "save", "ledger_append")
    return {op: [s.latency_ms for s in run.samples if s.operation == op] for op in ops}


def _metadata(run: StateFabricRun, rows: int, backends: dict[str, str]) -> dict[str, Any]:
    return {
        "path": paths.STATE_LATENCY,
        "rows": rows,
        "latency distribution": latency_markdown(_latencies(run)),
        "access pattern": str(run.pattern.declared()),
        "backends": str(backends),
    }


@asset(
    key=STATE_KEY,
    group_name="state_fabric",
    description="Get/save/ledger-append latencies and the cache hit ratio against the ideal.",
)
def state_cache_latency(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "state_fabric")
    pattern = AccessPattern(**sizes)
    run = _measure(database, redis, pattern, context.run.run_id[:8])
    finished = utc_now_iso()
    rows = write(evidence.layout().path(paths.STATE_LATENCY), run.samples, finished, pattern.ttl_s)
    backends = {"database": database.backend, "cache": redis.backend}
    samples = {paths.STATE_LATENCY: len(run.samples)}
    declared = {"samples": samples, "seed": pattern.seed, "pattern": pattern.declared()}
    finish(
        context,
        evidence,
        "state_fabric",
        started_at=started,
        finished_at=finished,
        sizes=sizes,
        backends=backends,
        declared=declared,
    )
    metadata = _metadata(run, rows, backends)
    return MaterializeResult(
        metadata={**metadata, **evidence_metadata(evidence.layout(), "state_fabric")}
    )


def state_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The state fabric's threshold checks from the contract."""
    return threshold_checks(STATE_KEY, "state_fabric", contract.thresholds_for("state_fabric"))
