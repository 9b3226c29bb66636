"""Router evidence assets: routing accuracy against hindsight with decision latency, and failover.

Thin wrappers over :mod:`agent_platform.evidence.workloads.router` (which says what each
workload does): each asset opens a scratch budget on the configured backends, runs the
workload with the settings the :class:`RouterResource` carries (``configs/router_evidence.yaml``),
writes the files through :mod:`agent_platform.evidence.formats.router` and records the run's
manifest, declaring its sample counts, seeds, time scale and profiles.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.router import (
    FailoverOutcome,
    RoutingDecision,
    write_decisions,
    write_failover,
)
from agent_platform.evidence.workloads.router import (
    accuracy_workload,
    failover_workload,
    run_accuracy,
    run_failover,
)
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource, RouterResource

__all__ = [
    "DECISIONS_KEY",
    "FAILOVER_KEY",
    "model_routing_accuracy",
    "router_checks",
    "router_failover",
]

DECISIONS_KEY = AssetKey(["model_routing_accuracy"])
FAILOVER_KEY = AssetKey(["router_failover"])


@contextmanager
def _budget(
    context: AssetExecutionContext,
    database: DatabaseResource,
    redis: RedisResource,
    router: RouterResource,
) -> Iterator[FinOpsBudget]:
    """A budget over the shipped routing config on a scratch database (and a run-private Redis
    prefix when Redis is configured)."""
    routing = router.routing()
    finops = load_finops(routing=routing)
    prefix = f"ev:{context.run.run_id[:8]}:{context.asset_key.to_user_string()}:"
    with database.scratch("router") as engine:
        store = open_store(engine, finops, redis_client=redis.client, redis_prefix=prefix)
        try:
            yield FinOpsBudget(finops, routing, store)
        finally:
            redis.purge(prefix)


def _backends(
    database: DatabaseResource, store: str, profile: str, simulated: list[bool]
) -> dict[str, Any]:
    return {
        "database": database.backend,
        "budget_store": store,
        "providers_simulated": bool(simulated) and all(simulated),
        "simulation_profile": profile,
    }


@asset(
    key=DECISIONS_KEY,
    group_name="router",
    description="Router decisions over forced provider states, judged in hindsight; their latency.",
)
def model_routing_accuracy(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
    router: RouterResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "router_decisions")
    settings = router.settings().accuracy
    with _budget(context, database, redis, router) as budget:
        work = accuracy_workload(settings, router.residency(), budget)
        decisions = run_accuracy(work, sizes["decisions"])
    finished, lay = utc_now_iso(), evidence.layout()
    rows, samples = write_decisions(
        lay.path(paths.ROUTING_ACCURACY), lay.path(paths.ROUTER_LATENCY), decisions, finished
    )
    declared = {
        "samples": {paths.ROUTING_ACCURACY: rows, paths.ROUTER_LATENCY: samples},
        "seed": settings.seed,
        "time_scale": settings.time_scale,
        "fault_profile": settings.profile,
        "settings": settings.model_dump(mode="json"),
        "hindsight": work.hindsight.model_dump(mode="json"),
    }
    simulated = [d.simulated for d in decisions]
    backends = _backends(database, budget.backend, settings.profile, simulated)
    finish(context, evidence, "router_decisions", started_at=started, finished_at=finished,
           sizes=sizes, backends=backends, declared=declared)  # fmt: skip
    metadata = {**_accuracy_metadata(decisions), **evidence_metadata(lay, "router_decisions")}
    return MaterializeResult(metadata=metadata)


def _accuracy_metadata(decisions: Sequence[RoutingDecision]) -> dict[str, Any]:
    correct = sum(d.counted_correct for d in decisions)
    misses = [
        (d.regime, d.task_type, d.provider_states, d.expected_provider or "-",
         d.actual_provider or "-", d.observed)
        for d in decisions
        if not d.counted_correct
    ]  # fmt: skip
    return {
        "path": paths.ROUTING_ACCURACY,
        "accuracy": f"{correct}/{len(decisions)}",
        "decision latency": latency_markdown({"decide": [d.decision_ms for d in decisions]}),
        "misses against hindsight": markdown_table(
            ("regime", "task", "forced states", "hindsight best", "router", "observed"),
            misses or [("-", "-", "-", "-", "-", "-")],
        ),
    }


@asset(
    key=FAILOVER_KEY,
    group_name="router",
    description="Requests whose first-choice provider fails, routed under background faults.",
)
def router_failover(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
    router: RouterResource,
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "router_failover")
    settings = router.settings().failover
    with _budget(context, database, redis, router) as budget:
        outcomes = run_failover(
            failover_workload(settings, router.residency(), budget), sizes["requests"]
        )
    finished = utc_now_iso()
    rows = write_failover(evidence.layout().path(paths.ROUTER_FAILOVER), outcomes)
    declared = {
        "samples": {paths.ROUTER_FAILOVER: rows},
        "seed": settings.seed,
        "time_scale": settings.time_scale,
        "fault_profile": settings.profile,
        "settings": settings.model_dump(mode="json"),
    }
    simulated = [o.simulated for o in outcomes]
    backends = _backends(database, budget.backend, settings.profile, simulated)
    finish(context, evidence, "router_failover", started_at=started, finished_at=finished,
           sizes=sizes, backends=backends, declared=declared)  # fmt: skip
    metadata = _failover_metadata(outcomes)
    return MaterializeResult(
        metadata={**metadata, **evidence_metadata(evidence.layout(), "router_failover")}
    )


def _failover_metadata(outcomes: Sequence[FailoverOutcome]) -> dict[str, Any]:
    failed_first = [o for o in outcomes if o.primary_failed]
    lost = [
        (o.request_id, o.incident, ">".join(o.attempt_outcomes), o.error)
        for o in failed_first
        if not o.succeeded
    ]
    return {
        "path": paths.ROUTER_FAILOVER,
        "requests": len(outcomes),
        "first attempt failed": len(failed_first),
        "rescued": sum(o.succeeded for o in failed_first),
        "not rescued": markdown_table(
            ("request", "incident", "attempts", "why"), lost or [("-", "-", "-", "-")]
        ),
    }


def router_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The router thresholds: accuracy and latency on the decisions, failover on its asset."""
    thresholds = contract.thresholds_for("router")
    on_failover = [t for t in thresholds if t.figure.startswith("failover")]
    on_decisions = [t for t in thresholds if t not in on_failover]
    return [
        *threshold_checks(DECISIONS_KEY, "router_decisions", on_decisions),
        *threshold_checks(FAILOVER_KEY, "router_failover", on_failover),
    ]
