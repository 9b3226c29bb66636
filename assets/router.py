"""Router evidence: accuracy against the oracle, decision latency, failover under faults.

- **decisions**: for each sample, random provider states (healthy, down or slow) are forced on
  the provider simulator; a fresh router learns every provider before deciding
  (:func:`~agent_platform.models.testing.probe_providers`: one real request to each provider in
  turn; a failure puts it in cooldown, a success feeds its latency median with the router's own
  wall-clock measurement, client overhead included: the real router is on trial, latency
  estimation and all), then its ``decide`` is timed. The expected provider is the oracle's
  (:mod:`agent_platform.models.oracle`) for the simulator's forced truth. The routing config's
  base latencies are scaled to the simulator profile (whose medians are the config's ÷100), so
  a slow provider is slow on the scale the router scores. One unrecorded warm-up probe first
  takes the process's client start-up out of the first router's latency observations. When
  only providers in cooldown are left, the router's first choice is a last resort, not a pick:
  it is recorded as no provider, as the oracle's "nothing available" is. Every decision counts;
  ``oracle_margin`` shows how close each call was (measured latency can tip a near tie the
  oracle scores on true latency).
- **failover**: requests routed under the seeded fault profile (429, 500, 503, timeouts, resets,
  malformed bodies on every provider); each row records every attempt and why it failed.

All provider traffic goes to the simulator and is labelled ``simulated=true``.
"""

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.errors import (
    AllProvidersFailedError,
    BudgetExceededError,
    NoEligibleProviderError,
)
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.router import (
    FailoverOutcome,
    RoutingDecision,
    write_decisions,
    write_failover,
)
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.pricing import PriceBook
from agent_platform.models.config import load_residency
from agent_platform.models.oracle import expected_provider, truth_from_simulator
from agent_platform.models.router import ModelRouter
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.models.testing import probe_providers
from agent_platform.models.types import Attempt
from agent_platform.schemas.routing import RoutingConfig
from assets._checks import threshold_checks
from assets._common import finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource, RouterResource

__all__ = [
    "DECISIONS_KEY",
    "FAILOVER_KEY",
    "decision_routing",
    "model_routing_accuracy",
    "router_checks",
    "router_failover",
    "run_decisions",
    "run_failover",
]

DECISIONS_KEY = AssetKey(["model_routing_accuracy"])
FAILOVER_KEY = AssetKey(["router_failover"])
PROMPT = "[agent_platform node=coder attempt=1]\nWrite add(a, b) with a pytest test."
TOKENS = 2000
SLOW_MS = 400.0  # a "slow" provider: 10x the slowest healthy median, as in the profile
_STATES = ("healthy", "healthy", "down", "slow")
_LEARNING = "probe_providers: one request to each provider, wall-clock latency observed"
_DECISION_SEED = 2026
_FAILOVER_SEED = 7


@contextmanager
def _budget(
    database: DatabaseResource, redis: RedisResource, routing: RoutingConfig, prefix: str
) -> Iterator[FinOpsBudget]:
    """A budget on a scratch database (and a run-private Redis prefix when configured)."""
    finops = load_finops(routing=routing)
    with database.scratch("router") as engine:
        store = open_store(engine, finops, redis_client=redis.client, redis_prefix=prefix)
        try:
            yield FinOpsBudget(finops, routing, store)
        finally:
            redis.purge(prefix)


def decision_routing(router: RouterResource) -> RoutingConfig:
    """The routing config for the decision workload: one failure starts a long cooldown and is
    not retried (so a down provider is known as down after one call, and probing it costs one
    call), a timeout well above a slow provider's latency (slow is not down), base latencies on
    the simulator's scale. Nothing here changes how ``decide`` ranks."""
    profile = router.profile("decision")
    base = router.routing(failure_threshold=1, cooldown_s=600, max_retries=0, request_timeout_s=5.0)
    providers = {
        name: provider.model_copy(
            update={"base_latency_ms": profile.for_provider(name).latency.median_ms}
        )
        for name, provider in base.providers.items()
    }
    return base.model_copy(update={"providers": providers})


@dataclass
class _Decisions:
    resource: RouterResource
    routing: RoutingConfig
    budget: FinOpsBudget
    simulator: ProviderSimulator
    rng: random.Random


def _force_states(work: _Decisions) -> dict[str, str]:
    work.simulator.reset_states()
    states = {}
    for name in work.routing.providers:
        state = work.rng.choice(_STATES)
        work.simulator.force(name, state, latency_ms=SLOW_MS if state == "slow" else None)
        states[name] = state
    return states


async def _warm_up(work: _Decisions) -> None:
    """One unrecorded probe of every (healthy) provider through a throwaway router, so the
    process's one-off client start-up (seconds, the first time litellm is called) is not taken
    for a provider's latency by the first measured router."""
    work.simulator.reset_states()
    router = work.resource.build(work.routing, work.budget, work.simulator, random.Random(-1))
    await probe_providers(router, PROMPT, sorted(work.routing.task_types)[0], TOKENS)


async def _one_decision(work: _Decisions, index: int) -> RoutingDecision:
    states = _force_states(work)
    task = work.rng.choice(sorted(work.routing.task_types))
    router = work.resource.build(work.routing, work.budget, work.simulator, random.Random(index))
    await probe_providers(router, PROMPT, task, TOKENS)
    started = time.perf_counter()
    decision = router.decide(task, TOKENS)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    pick = None if decision.provider in decision.cooling else decision.provider
    truth = truth_from_simulator(work.simulator, work.routing.providers)
    prices = PriceBook(work.routing, work.budget.config)
    verdict = expected_provider(work.routing, load_residency(), prices, task, TOKENS, truth)
    return RoutingDecision(
        timestamp=utc_now_iso(),
        task_type=task,
        expected_provider=verdict.provider or "",
        actual_provider=pick or "",
        provider_states=";".join(f"{n}={s}" for n, s in states.items()),
        decision_ms=elapsed_ms,
        simulated=router.simulated,
        oracle_margin=verdict.margin,
    )


def run_decisions(
    resource: RouterResource, budget: FinOpsBudget, routing: RoutingConfig, count: int
) -> list[RoutingDecision]:
    """``count`` decisions over randomised provider states, each with the oracle's answer."""

    async def _all() -> list[RoutingDecision]:
        with resource.simulator("decision") as simulator:
            work = _Decisions(resource, routing, budget, simulator, random.Random(_DECISION_SEED))
            await _warm_up(work)
            return [await _one_decision(work, n) for n in range(count)]

    return asyncio.run(_all())


def _explain(attempts: list[Attempt]) -> str:
    return "; ".join(
        f"{a.provider}: {a.outcome}" + (f" ({a.error})" if a.error else "")
        for a in attempts
        if a.outcome != "ok"
    )


def _as_attempts(raw: list[dict[str, Any]]) -> list[Attempt]:
    return [
        Attempt(
            provider=str(a.get("provider", "")),
            model=str(a.get("model", "")),
            outcome=str(a.get("outcome", "")),
            latency_ms=float(a.get("latency_ms") or 0.0),
            cost_eur=float(a.get("cost_eur") or 0.0),
            correlation_id=str(a.get("correlation_id", "")),
            error=str(a["error"]) if a.get("error") else None,
        )
        for a in raw
    ]


async def _one_request(router: ModelRouter, task: str, request_id: str) -> FailoverOutcome:
    started = time.perf_counter()
    final, error = "", ""
    try:
        result = await router.route(PROMPT, task, TOKENS, correlation_id=request_id)
        attempts, final = list(result.attempts), result.provider
    except AllProvidersFailedError as exc:
        attempts, error = _as_attempts(exc.attempts), str(exc)
    except (BudgetExceededError, NoEligibleProviderError) as exc:
        attempts, error = [], f"{type(exc).__name__}: {exc}"
    return FailoverOutcome(
        timestamp=utc_now_iso(),
        request_id=request_id,
        task_type=task,
        primary_provider=attempts[0].provider if attempts else "",
        primary_failed=not attempts or attempts[0].outcome != "ok",
        providers_tried=tuple(a.provider for a in attempts),
        attempts=len(attempts),
        succeeded=bool(final),
        final_provider=final,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        error=error or _explain(attempts),
        simulated=router.simulated,
    )


def run_failover(
    resource: RouterResource, budget: FinOpsBudget, routing: RoutingConfig, count: int
) -> list[FailoverOutcome]:
    """``count`` requests routed under the fault profile, one outcome each."""

    async def _all() -> list[FailoverOutcome]:
        rng = random.Random(_FAILOVER_SEED)
        with resource.simulator("fault") as simulator:
            router = resource.build(routing, budget, simulator, random.Random(_FAILOVER_SEED))
            tasks = sorted(routing.task_types)
            return [
                await _one_request(router, rng.choice(tasks), f"failover-{n:05d}")
                for n in range(count)
            ]

    return asyncio.run(_all())


@asset(
    key=DECISIONS_KEY,
    group_name="router",
    description="Router decisions vs the oracle over forced provider states, and their latency.",
)
def model_routing_accuracy(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
    router: RouterResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "router_decisions")
    routing = decision_routing(router)
    with _budget(database, redis, routing, f"ev:{context.run.run_id[:8]}:router:") as budget:
        decisions = run_decisions(router, budget, routing, sizes["decisions"])
        store = budget.backend
    finished = utc_now_iso()
    lay = evidence.layout()
    rows = write_decisions(
        lay.path(paths.ROUTING_ACCURACY), lay.path(paths.ROUTER_LATENCY), decisions, finished
    )
    recorded = {**sizes, "learning": _LEARNING, "slow_ms": SLOW_MS, "tokens": TOKENS}
    finish(
        context,
        evidence,
        "router_decisions",
        started_at=started,
        finished_at=finished,
        sizes=recorded,
        backends=_backends(
            database, store, router.decision_profile, [d.simulated for d in decisions]
        ),
    )
    correct = sum(d.expected_provider == d.actual_provider for d in decisions)
    misses = [
        (
            d.task_type,
            d.provider_states,
            d.expected_provider or "-",
            d.actual_provider or "-",
            f"{d.oracle_margin:.4f}",
        )
        for d in decisions
        if d.expected_provider != d.actual_provider
    ]
    return MaterializeResult(
        metadata={
            "path": paths.ROUTING_ACCURACY,
            "rows": rows[0],
            "accuracy": f"{correct}/{len(decisions)}",
            "decision latency": latency_markdown({"decide": [d.decision_ms for d in decisions]}),
            "disagreements with the oracle": markdown_table(
                ("task", "forced states", "oracle", "router", "oracle margin"),
                misses or [("-", "-", "-", "-", "-")],
            ),
        }
    )


@asset(
    key=FAILOVER_KEY,
    group_name="router",
    description="Requests routed under the simulator's fault profile, every attempt explained.",
)
def router_failover(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
    router: RouterResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "router_failover")
    routing = router.routing()
    with _budget(database, redis, routing, f"ev:{context.run.run_id[:8]}:failover:") as budget:
        outcomes = run_failover(router, budget, routing, sizes["requests"])
        store = budget.backend
    finished = utc_now_iso()
    write_failover(evidence.layout().path(paths.ROUTER_FAILOVER), outcomes)
    recorded = {
        **sizes,
        "request_timeout_s": router.request_timeout_s,
        "retry_delay_ms": router.retry_delay_ms,
    }
    finish(
        context,
        evidence,
        "router_failover",
        started_at=started,
        finished_at=finished,
        sizes=recorded,
        backends=_backends(database, store, router.fault_profile, [o.simulated for o in outcomes]),
    )
    failed_first = [o for o in outcomes if o.primary_failed]
    table = [
        (o.request_id, ">".join(o.providers_tried), "ok" if o.succeeded else "FAILED", o.error)
        for o in failed_first
    ]
    return MaterializeResult(
        metadata={
            "path": paths.ROUTER_FAILOVER,
            "requests": len(outcomes),
            "first attempt failed": len(failed_first),
            "rescued": sum(o.succeeded for o in failed_first),
            "failovers": markdown_table(
                ("request", "providers tried", "outcome", "why"), table or [("-", "-", "-", "-")]
            ),
        }
    )


def _backends(
    database: DatabaseResource, store: str, profile: str, simulated: list[bool]
) -> dict[str, Any]:
    """The backends of a router workload; ``simulated`` holds each row's router mode."""
    return {
        "database": database.backend,
        "budget_store": store,
        "providers_simulated": bool(simulated) and all(simulated),
        "simulation_profile": profile,
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
