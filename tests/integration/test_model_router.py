"""The model router end to end: simulator for providers, real PostgreSQL/Redis/SQLite budgets."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
import redis

from agent_platform.db import create_engine_for
from agent_platform.errors import (
    AllProvidersFailedError,
    BudgetExceededError,
    InvalidInputError,
    NoEligibleProviderError,
)
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.pricing import PriceBook
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import build_endpoints
from agent_platform.models.factory import build_router
from agent_platform.models.oracle import ProviderTruth, expected_provider, truth_from_simulator
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.router import ModelRouter
from agent_platform.models.simulation_profile import ProviderProfile, ScriptRule, SimulationProfile
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.models.testing import (
    RecordingSleep,
    TrueLatencyCaller,
    probe_providers,
    tuned_finops,
    tuned_routing,
)

ROUTING = tuned_routing(load_routing(), request_timeout_s=0.5, retry_delay_ms=5, cooldown_s=60)
RESIDENCY = load_residency()
FINOPS = tuned_finops(load_finops(routing=load_routing()), reservation_ttl_s=30)
PROMPT = "[agent_platform node=coder attempt=1]\nWrite add(a, b) with a pytest test."


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    profile = SimulationProfile(default=ProviderProfile(timeout_sleep_s=1.5))
    with ProviderSimulator(profile) as simulator:
        yield simulator


def _open_budget(request: pytest.FixtureRequest, kind: str) -> Iterator[FinOpsBudget]:
    engine = create_engine_for(request.getfixturevalue("pg_url"))
    client = None
    if kind == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    store = open_store(
        engine, FINOPS, redis_client=client, redis_prefix=request.getfixturevalue("redis_prefix")
    )
    yield FinOpsBudget(FINOPS, ROUTING, store)
    if client is not None:
        client.close()
    engine.dispose()


@pytest.fixture(params=["postgres", "redis"])
def budget(request: pytest.FixtureRequest) -> Iterator[FinOpsBudget]:
    """Billing tests run on both budget stores (the stores themselves: test_finops.py)."""
    yield from _open_budget(request, request.param)


@pytest.fixture
def redis_budget(request: pytest.FixtureRequest) -> Iterator[FinOpsBudget]:
    """Routing tests run on the production hot path: counters in Redis, spend in PostgreSQL."""
    yield from _open_budget(request, "redis")


def _router(
    sim: ProviderSimulator, budget: FinOpsBudget, routing=ROUTING, residency=RESIDENCY, sleep=None
) -> ModelRouter:
    return build_router(
        routing,
        residency,
        budget,
        simulator_url=sim.base_url,
        mode="simulator",
        sleep=sleep or RecordingSleep(),
        rng=random.Random(3),
    )


async def test_route_serves_the_best_provider_and_bills_the_reported_usage(sim, budget) -> None:
    sim.set_script(
        [
            ScriptRule(
                match=["node=coder"], content='{"files": {"add.py": "def add(a, b): return a + b"}}'
            )
        ]
    )
    router = _router(sim, budget)
    result = await router.route(PROMPT, "coding", 2000, correlation_id="run-1")
    assert result.provider == "openai" and result.model == "gpt-4o" and not result.failover
    assert result.content.startswith('{"files"') and result.simulated
    (entry,) = sim.requests()
    assert entry.correlation_id == "run-1" and entry.simulated
    price = PriceBook(ROUTING, FINOPS).actual(
        "openai", "gpt-4o", entry.prompt_tokens, entry.completion_tokens
    )
    assert result.cost_eur_exact == price.amount_eur
    status = budget.get_remaining_budget()
    assert status.day.committed == price.amount_eur and status.day.reserved == 0


async def test_cost_by_task_is_exact_to_the_cent_against_simulator_usage(sim, budget) -> None:
    router = _router(sim, budget)
    prompts = [f"task {i}: " + "word " * (i * 7) for i in range(12)]
    for index, prompt in enumerate(prompts):
        await router.route(prompt, ("planning", "coding", "review")[index % 3], 3000)
    prices = PriceBook(ROUTING, FINOPS)
    expected: dict[str, Decimal] = {}
    for index, entry in enumerate(sim.requests()):
        task = ("planning", "coding", "review")[index % 3]
        cost = prices.actual(
            entry.provider, entry.model, entry.prompt_tokens, entry.completion_tokens
        ).amount_eur
        expected[task] = expected.get(task, Decimal(0)) + cost
    cents = Decimal("0.01")
    assert {t: v.quantize(cents) for t, v in router.cost_by_task().items()} == {
        t: v.quantize(cents) for t, v in expected.items()
    }
    assert router.cost_by_task() == expected  # and to the micro-euro
    assert budget.get_remaining_budget().day.committed == sum(expected.values())
    assert router.requests_by_task() == {"planning": 4, "coding": 4, "review": 4}


async def test_over_cap_request_is_rejected_before_any_provider_call(sim, pg_url) -> None:
    finops = tuned_finops(
        FINOPS,
        phase_1={
            "daily_eur_cap": Decimal("0.001"),
            "providers": {
                "openai": {"max_tokens": 80000, "models": None},
                "anthropic": {"max_tokens": 60000, "models": None},
                "local": {"max_tokens": 100, "models": None},
            },
        },
    )
    engine = create_engine_for(pg_url)
    budget = FinOpsBudget(finops, ROUTING, open_store(engine, finops))
    router = _router(sim, budget)
    with pytest.raises(BudgetExceededError, match="no provider can hold"):
        await router.route(PROMPT, "coding", 8000)
    assert sim.requests() == []
    assert not router.check_budget("coding", 8000)
    engine.dispose()


async def test_failover_on_server_errors_and_on_timeouts(sim, redis_budget) -> None:
    router = _router(sim, redis_budget)
    sim.force("openai", "down")
    result = await router.route(PROMPT, "coding", 2000)
    assert result.provider == "anthropic" and result.failover
    assert [a.outcome for a in result.attempts] == ["server_error", "ok"]
    sim.force("anthropic", "faulty", fault="timeout")
    result = await router.route(PROMPT, "coding", 2000)
    assert result.provider == "local"
    assert [a.outcome for a in result.attempts] == ["server_error", "timeout", "ok"]
    assert (
        redis_budget.get_remaining_budget().day.reserved == 0
    )  # failed attempts released their holds
    # openai failed twice (threshold 2): it is cooling down and no longer first choice
    assert router.decide("coding", 2000).provider == "anthropic"


async def test_all_providers_failing_lists_every_attempt_and_backs_off(sim, redis_budget) -> None:
    sleep = RecordingSleep()
    router = _router(sim, redis_budget, sleep=sleep)
    for name in ("openai", "anthropic", "local"):
        sim.force(name, "faulty", fault="server_error")
    with pytest.raises(AllProvidersFailedError) as caught:
        await router.route(PROMPT, "review", 2000)
    attempts = caught.value.attempts
    assert len(attempts) == 1 + ROUTING.failover.max_retries
    assert [a["provider"] for a in attempts] == ["openai", "local", "anthropic", "openai"]
    assert all(a["outcome"] == "server_error" for a in attempts)
    assert len(sleep.delays) == 1 and 0.004 <= sleep.delays[0] <= 60  # re-try of openai waited
    assert len(sim.requests()) == 4


async def test_rate_limit_cooldown_honours_retry_after(sim, redis_budget) -> None:
    router = _router(sim, redis_budget)
    sim.force("openai", "faulty", fault="rate_limited")
    result = await router.route(PROMPT, "planning", 2000)
    assert result.attempts[0].outcome == "rate_limited" and result.provider == "local"
    assert 0 < router.health.cooldown_remaining("openai") <= 1.0  # the profile's Retry-After: 1 s
    assert "openai" in router.decide("planning", 2000).cooling


async def test_residency_block_never_calls_a_non_eu_endpoint(sim, redis_budget) -> None:
    vendors = dict(RESIDENCY.vendors)
    vendors["openai"] = vendors["openai"].model_copy(
        update={"endpoint": "https://api.openai.com/v1"}
    )
    residency = RESIDENCY.model_copy(update={"vendors": vendors})
    router = _router(sim, redis_budget, residency=residency)
    decision = router.decide("planning", 2000)
    assert decision.excluded["openai"].startswith("residency:") and "openai" not in decision.order
    for task in ("planning", "coding", "review"):
        result = await router.route(PROMPT, task, 2000)
        assert result.provider != "openai"
    assert sim.requests("openai") == [] and len(sim.requests()) == 3
    everyone_out = residency.model_copy(update={"vendors": {}})
    with pytest.raises(NoEligibleProviderError, match="residency"):
        await _router(sim, redis_budget, residency=everyone_out).route(PROMPT, "coding", 2000)


async def test_invalid_requests_are_typed_errors(sim, redis_budget) -> None:
    router = _router(sim, redis_budget)
    with pytest.raises(InvalidInputError, match=r"task_types\.planning\.max_tokens"):
        await router.route(PROMPT, "planning", 5000)
    with pytest.raises(InvalidInputError, match="prompt"):
        await router.route("x" * 400, "planning", 50)
    with pytest.raises(InvalidInputError, match="unknown"):
        router.decide("poetry", 10)
    assert sim.requests() == []


def _oracle_router(sim: ProviderSimulator, budget: FinOpsBudget, routing) -> ModelRouter:
    endpoints = build_endpoints(routing, RESIDENCY, mode="simulator", simulator_url=sim.base_url)
    adapter = LiteLLMAdapter(endpoints, timeout_s=routing.failover.request_timeout_s)
    caller = TrueLatencyCaller(adapter, sim)
    return ModelRouter(
        routing, RESIDENCY, budget, endpoints, caller, sleep=RecordingSleep(), rng=random.Random(3)
    )


async def test_routing_matches_the_oracle_across_random_provider_states(sim, pg_url) -> None:
    """Every sampled state counts (no margin filter). The router learns each provider's state
    by calling it (a failure starts a cooldown, a success feeds its latency median); its scores
    must then equal the oracle's, computed from the simulator's truth, and its pick the oracle's.
    Latency observations are controlled (TrueLatencyCaller: the simulator's true latency, not
    the stopwatch, whose client overhead varies with machine load): the decision is on trial,
    not the clock."""
    routing = tuned_routing(ROUTING, failure_threshold=1, cooldown_s=600)
    # The shipped base latencies / 100 (a score is scale-free in latency); "slow" is 20 ms.
    providers = {
        name: p.model_copy(update={"base_latency_ms": p.base_latency_ms / 100})
        for name, p in routing.providers.items()
    }
    routing = routing.model_copy(update={"providers": providers})
    engine = create_engine_for(pg_url)
    budget = FinOpsBudget(FINOPS, routing, open_store(engine, FINOPS))
    prices, rng = PriceBook(routing, FINOPS), random.Random(44)
    by_health = by_latency = 0  # states whose pick needs the learned availability / latency
    for _ in range(16):
        sim.reset_states()
        states = {name: rng.choice(["healthy", "healthy", "down", "slow"]) for name in providers}
        for name, state in states.items():
            sim.force(name, state, latency_ms=20.0 if state == "slow" else None)
        task = rng.choice(["planning", "coding", "review"])
        router = _oracle_router(sim, budget, routing)
        naive = router.decide(task, 2000).provider
        await probe_providers(router, PROMPT, task, 2000)
        truth = truth_from_simulator(sim, providers)
        verdict = expected_provider(routing, RESIDENCY, prices, task, 2000, truth)
        blind = {n: ProviderTruth(t.available) for n, t in truth.items()}  # base latencies
        base_pick = expected_provider(routing, RESIDENCY, prices, task, 2000, blind).provider
        by_health += naive != base_pick
        by_latency += base_pick != verdict.provider
        decision = router.decide(task, 2000)
        scores = {s.provider: s.score for s in decision.ranking}
        context = (task, states, scores, verdict)
        assert scores.keys() == verdict.scores.keys(), context
        assert all(abs(scores[n] - verdict.scores[n]) <= 1e-9 for n in scores), context
        pick = None if decision.provider in decision.cooling else decision.provider
        assert pick == verdict.provider, context
        if pick is not None:
            result = await router.route(PROMPT, task, 2000)
            assert result.provider == pick and not result.failover, context
    assert by_health >= 3 and by_latency >= 3  # the seed samples states only learning gets right
    engine.dispose()
