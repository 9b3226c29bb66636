"""Router evidence workloads: routing accuracy against hindsight, and failover under incidents.

**Accuracy** (:func:`run_accuracy`). Requests come in regimes: each provider is forced healthy,
down or slow on a fresh provider simulator for ``regime_requests`` requests. A fresh router
first sees ``failover.failure_threshold`` rounds of traffic to every provider (so a down one
is in cooldown, as after that many failures in production), then for each request it decides
(``decide``, timed: the decision-latency samples), and the same request goes to every eligible
provider (:class:`~agent_platform.evidence.workloads.fanout.FanOut`). The hindsight yardstick
(:mod:`agent_platform.evidence.hindsight`) names the best provider by what happened; the
router then learns from that round through its own health tracker (successes feed its latency
median, failures its cooldowns), as it would from its traffic. Latencies are the ones the
simulator drew, in real-time units, and the router's health clock is the simulated one, so the
decisions follow from the seeds and configs alone; ``time_scale`` only shortens the wait.

**Failover** (:func:`run_failover`). Every request meets an incident: the provider the router
would pick first fails every call for that request (the kind drawn from the configured
weights), on top of the profile's background faults on every provider. The request is then
routed by the real router (budget holds, retries, backoff, cooldowns, failover) on the
shipped failover settings with every duration divided by ``time_scale`` (as are the profile's).

All provider traffic goes to the provider simulator and every row says ``simulated=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from agent_platform.compliance.residency import evaluate_vendor
from agent_platform.errors import (
    AllProvidersFailedError,
    BudgetExceededError,
    NoEligibleProviderError,
    ProviderError,
)
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.router import FailoverOutcome, RoutingDecision
from agent_platform.evidence.hindsight import (
    HindsightConfig,
    format_observations,
    judge,
    load_hindsight,
)
from agent_platform.evidence.workloads.fanout import Call, FanOut, Outcome
from agent_platform.evidence.workloads.router_settings import (
    AccuracySettings,
    FailoverSettings,
    compress_profile,
    compress_routing,
    resolve,
)
from agent_platform.finops import FinOpsBudget
from agent_platform.models.endpoints import build_endpoints
from agent_platform.models.factory import build_router
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.router import ModelRouter
from agent_platform.models.simulation_profile import SimulationProfile
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.models.types import Attempt
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "PROMPT",
    "Accuracy",
    "Failover",
    "RouterWorld",
    "accuracy_workload",
    "failover_workload",
    "run_accuracy",
    "run_failover",
]

PROMPT = "[agent_platform node=coder attempt=1]\nWrite add(a, b) with a pytest test."
_WARM_UP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RouterWorld:
    """What every router of a workload is built on: configs and the budget it holds money in."""

    routing: RoutingConfig
    residency: ResidencyConfig
    budget: FinOpsBudget

    def router(self, simulator: ProviderSimulator, seed: int) -> ModelRouter:
        return build_router(
            self.routing, self.residency, self.budget,
            simulator_url=simulator.base_url, mode="simulator", rng=random.Random(seed),
        )  # fmt: skip

    @property
    def tasks(self) -> list[str]:
        return sorted(self.routing.task_types)


@dataclass(frozen=True)
class Accuracy:
    """The accuracy workload's inputs; ``profile`` is already compressed by ``time_scale``."""

    world: RouterWorld
    profile: SimulationProfile
    hindsight: HindsightConfig
    seed: int
    states: tuple[str, ...]
    regime_requests: int
    tokens: int
    time_scale: float
    lanes: int


def accuracy_workload(
    settings: AccuracySettings, residency: ResidencyConfig, budget: FinOpsBudget
) -> Accuracy:
    """The accuracy workload on the budget's (shipped) routing config, time compressed."""
    return Accuracy(
        world=RouterWorld(budget.routing, residency, budget),
        profile=compress_profile(resolve(settings.profile), settings.time_scale),
        hindsight=load_hindsight(),  # the one the gate's reader judges with
        seed=settings.seed,
        states=settings.states,
        regime_requests=settings.regime_requests,
        tokens=settings.tokens,
        time_scale=settings.time_scale,
        lanes=settings.lanes,
    )


class SimulatedClock:
    """The router's health clock in simulated real time: a round lasts its slowest answer."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _eligible(world: RouterWorld) -> tuple[str, ...]:
    """Providers the residency policy lets the router call (the hindsight candidates)."""
    enforce = world.residency.enforcement.block_non_eu_requests
    return tuple(
        name
        for name in world.routing.providers
        if not enforce or evaluate_vendor(name, world.residency).eu_compliant
    )


def _failure_kind(status: int | None) -> str:
    if status is None:
        return "connection"
    if status == 429:
        return "rate_limited"
    return "bad_response" if status == 200 else "server_error"


def _learn(router: ModelRouter, clock: SimulatedClock, outcomes: Sequence[Outcome]) -> None:
    """Feed one fan-out round to the router's health tracker, as its own calls would."""
    clock.now += max((o.observation.latency_ms for o in outcomes), default=0.0) / 1000.0
    for outcome in outcomes:
        seen = outcome.observation
        if seen.succeeded:
            router.health.record_success(seen.provider, seen.latency_ms)
        else:
            kind = _failure_kind(outcome.status)
            error = ProviderError(seen.provider, kind, "failed in the fan-out", outcome.status)
            router.health.record_failure(seen.provider, error)


@dataclass
class _Regime:
    """One regime's simulator, router, clock and fan-out."""

    work: Accuracy
    index: int
    states: dict[str, str]
    router: ModelRouter
    clock: SimulatedClock
    fan: FanOut
    rng: random.Random

    def call(self, task: str) -> Call:
        return Call(task, PROMPT, self.work.tokens - self.router.prompt_tokens(PROMPT))

    async def round(self, task: str) -> list[Outcome]:
        return await self.fan.send(self.call(task), _eligible(self.work.world))


async def _decide(regime: _Regime) -> RoutingDecision:
    task = regime.rng.choice(regime.work.world.tasks)
    started = time.perf_counter()
    decision = regime.router.decide(task, regime.work.tokens)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    pick = None if decision.provider in decision.cooling else decision.provider
    outcomes = await regime.round(task)
    observations = [o.observation for o in outcomes]
    verdict = judge(observations, pick, regime.work.hindsight)
    _learn(regime.router, regime.clock, outcomes)
    return RoutingDecision(
        timestamp=utc_now_iso(),
        task_type=task,
        expected_provider=verdict.best or "",
        actual_provider=pick or "",
        provider_states=";".join(f"{n}={s}" for n, s in regime.states.items()),
        decision_ms=elapsed_ms,
        simulated=regime.router.simulated,
        observed=format_observations(observations),
        regime=regime.index,
        best_score=verdict.scores.get(verdict.best or ""),
        pick_score=verdict.scores.get(pick or ""),
        correct=verdict.correct,
    )


async def _run_regime(work: Accuracy, index: int, count: int) -> list[RoutingDecision]:
    rng = random.Random(f"{work.seed}:{index}")
    states = {name: rng.choice(work.states) for name in work.world.routing.providers}
    profile = work.profile.model_copy(update={"seed": work.profile.seed + index})
    simulator = ProviderSimulator(profile).start()
    try:
        async with httpx.AsyncClient() as client:
            for name, state in states.items():
                simulator.force(name, state)
            router = work.world.router(simulator, work.seed + index)
            clock = SimulatedClock()
            router.health.monotonic = clock  # cooldowns run on simulated time
            prices = work.world.budget.prices
            fan = FanOut(client, simulator, work.world.routing, prices, work.time_scale)
            regime = _Regime(work, index, states, router, clock, fan, rng)
            for _ in range(work.world.routing.failover.failure_threshold):
                _learn(router, clock, await regime.round(rng.choice(work.world.tasks)))
            first = index * work.regime_requests
            size = min(work.regime_requests, count - first)
            return [await _decide(regime) for _ in range(size)]
    finally:
        # Stopping waits for the server's poll loop: off the event loop, so other lanes go on.
        await asyncio.to_thread(simulator.stop)


def run_accuracy(work: Accuracy, count: int) -> list[RoutingDecision]:
    """``count`` decisions over regimes of forced provider states, each judged in hindsight."""
    regimes = -(-count // work.regime_requests)

    async def _lane(indices: range) -> list[list[RoutingDecision]]:
        return [await _run_regime(work, i, count) for i in indices]

    async def _all() -> list[RoutingDecision]:
        lanes = [range(lane, regimes, work.lanes) for lane in range(work.lanes)]
        done = await asyncio.gather(*(_lane(indices) for indices in lanes))
        by_regime = {
            i: rows
            for lane, out in zip(lanes, done, strict=True)
            for i, rows in zip(lane, out, strict=True)
        }
        return [row for i in range(regimes) for row in by_regime[i]]

    return asyncio.run(_all())


@dataclass(frozen=True)
class Failover:
    """The failover workload's inputs; ``world.routing`` and ``profile`` already compressed."""

    world: RouterWorld
    profile: SimulationProfile
    seed: int
    incidents: dict[str, float]
    tokens: int
    lanes: int


def failover_workload(
    settings: FailoverSettings, residency: ResidencyConfig, budget: FinOpsBudget
) -> Failover:
    """The failover workload: the budget's (shipped) routing config and the fault profile,
    both with every duration divided by the time scale."""
    routing = compress_routing(budget.routing, settings.time_scale)
    return Failover(
        world=RouterWorld(routing, residency, budget),
        profile=compress_profile(resolve(settings.profile), settings.time_scale),
        seed=settings.seed,
        incidents=dict(settings.incidents),
        tokens=settings.tokens,
        lanes=settings.lanes,
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


def _explain(attempts: Sequence[Attempt]) -> str:
    return "; ".join(
        f"{a.provider}: {a.outcome}" + (f" ({a.error})" if a.error else "")
        for a in attempts
        if a.outcome != "ok"
    )


async def _route(
    router: ModelRouter, task: str, tokens: int, request_id: str
) -> tuple[list[Attempt], str, str]:
    """(attempts, provider that answered or "", error) of one routed request."""
    try:
        result = await router.route(PROMPT, task, tokens, correlation_id=request_id)
    except AllProvidersFailedError as exc:
        attempts = _as_attempts(exc.attempts)
        return attempts, "", _explain(attempts) or str(exc)
    except (BudgetExceededError, NoEligibleProviderError) as exc:
        return [], "", f"{type(exc).__name__}: {exc}"
    return list(result.attempts), result.provider, _explain(result.attempts)


async def _incident(
    work: Failover, router: ModelRouter, simulator: ProviderSimulator, index: int
) -> FailoverOutcome:
    rng = random.Random(f"{work.seed}:{index}")
    task = rng.choice(work.world.tasks)
    kind = rng.choices(list(work.incidents), weights=list(work.incidents.values()))[0]
    primary = router.decide(task, work.tokens, read_budget=False).provider
    if primary is not None:
        simulator.force(primary, "faulty", fault=kind)
    started = time.perf_counter()
    try:
        attempts, final, error = await _route(router, task, work.tokens, f"failover-{index:05d}")
    finally:
        simulator.reset_states()
    return FailoverOutcome(
        timestamp=utc_now_iso(),
        request_id=f"failover-{index:05d}",
        task_type=task,
        primary_provider=attempts[0].provider if attempts else "",
        primary_failed=not attempts or attempts[0].outcome != "ok",
        providers_tried=tuple(a.provider for a in attempts),
        attempts=len(attempts),
        succeeded=bool(final),
        final_provider=final,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        error=error,
        simulated=router.simulated,
        attempt_outcomes=tuple(f"{a.provider}:{a.outcome}" for a in attempts),
        incident=f"{primary}={kind}" if primary else "none",
    )


async def _warm_up(world: RouterWorld, simulator: ProviderSimulator) -> None:
    """One unrecorded call per provider on ``simulator`` with a generous timeout, so litellm's
    one-off start-up (per process and per endpoint: seconds) is not taken for a timeout of the
    workload's first requests. Its outcome is not recorded and the router never sees it."""
    endpoints = build_endpoints(
        world.routing, world.residency, mode="simulator", simulator_url=simulator.base_url
    )
    adapter = LiteLLMAdapter(endpoints, timeout_s=_WARM_UP_TIMEOUT_S)
    for name, provider in world.routing.providers.items():
        model = provider.models[world.tasks[0]]  # type: ignore[index]
        with contextlib.suppress(ProviderError):
            await adapter.complete(name, model, PROMPT, max_tokens=64, correlation_id="warm-up")


def run_failover(work: Failover, count: int) -> list[FailoverOutcome]:
    """``count`` requests, each meeting an incident on its first-choice provider."""

    async def _lane(lane: int) -> list[FailoverOutcome]:
        profile = work.profile.model_copy(update={"seed": work.profile.seed + lane})
        with ProviderSimulator(profile) as simulator:
            await _warm_up(work.world, simulator)
            router = work.world.router(simulator, work.seed * 1000 + lane)
            return [
                await _incident(work, router, simulator, i) for i in range(lane, count, work.lanes)
            ]

    async def _all() -> list[FailoverOutcome]:
        done = await asyncio.gather(*(_lane(lane) for lane in range(work.lanes)))
        return sorted((o for lane in done for o in lane), key=lambda o: o.request_id)

    return asyncio.run(_all())
