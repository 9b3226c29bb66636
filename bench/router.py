"""Benchmark of the LLM router against litellm.Router, on the provider simulator (SIMULATED traffic).

Run as ``uv run python -m bench.router`` (``--repeats N``, default 3). Measures, in this run:

* ``decision_p95_ms``: what :meth:`ModelRouter.route` does before the provider call (the
  decision, then the budget reservation on Redis; the hold is released outside the timed
  region); ``decision_with_budget_read_p95_ms`` adds decide()'s advisory counter read. A bare
  Redis PING is timed after each sample (``redis_ping_p95_ms``): the reservation is one round
  trip, so this floor, which moves with the machine's load, is printed beside the figure.
* Four arms against the same simulator endpoint (its zero-latency, fault-free profile), timed
  in rounds: each round calls every arm once, the arms' order rotating from round to round, so
  drift on a shared machine hits them all alike:

  - ``ours``: our full routed call, :meth:`ModelRouter.route` (decide, reserve on Redis, the
    adapter's direct provider call, then commit on Redis + the spend row in SQL);
  - ``litellm_router``: ``litellm.Router.acompletion`` on the same model list;
  - ``raw_post``: one ``httpx.AsyncClient.post`` of the same request body to the same URL, the
    JSON answer decoded (connection kept alive): the floor any client pays;
  - ``adapter_call``: the adapter's own provider call (``LiteLLMAdapter.complete``: litellm's
    request format posted on its pooled transport, the answer read), without decision or
    budget;
  - ``litellm_acompletion``: the ``litellm.acompletion`` call the adapter makes for a route it
    cannot call directly (Bedrock), here with the same keyword arguments against the same
    endpoint, without decision or budget: what litellm's own per-call work costs.

  ``routed_call_p95_ratio_vs_litellm_router`` is p95(ours) / p95(litellm_router).
  ``routed_call_overhead_p95_ms`` is the 95th percentile, over the rounds, of
  ``ours[i] - raw_post[i]``, the two calls of round ``i`` (adjacent in time): what our routed
  call adds to a bare POST, budget round trips and litellm included, paired so that a slow
  moment of the machine does not count as overhead. ``routed_call_overhead_p50_ms`` is its median
  and ``routed_call_p95_minus_raw_post_p95_ms`` the unpaired difference of the two p95s. The
  overhead splits, paired the same way, into ``adapter_call_overhead_*`` (the adapter's call
  minus the raw POST: negative when its transport is cheaper than an httpx client) and
  ``budget_and_decision_overhead_*`` (our routed call minus the adapter's call: decision,
  reservation, commit and spend row). ``litellm_acompletion_overhead_*`` is litellm's call minus
  the raw POST and ``routing_layer_overhead_*`` our routed call minus litellm's call.
* ``decide_/reserve_/commit_cpu_ms_mean`` and ``..._section_p50_ms``/``..._section_p95_ms``:
  the routed call's own sections timed apart (decision; reservation, one Redis script; commit,
  one Redis script and the spend row in SQL), so the overhead's parts are named beside it.
* ``<arm>_cpu_ms_mean``: each arm's mean process CPU time per call (all threads of this
  process, the in-process simulator included, Redis's own CPU not), and
  ``routed_call_cpu_ratio_vs_litellm_router``: what the calls cost whatever the machine's load,
  beside the wall-clock figures, which on a shared machine move with everything else running.
* Each timed figure is measured ``--repeats`` times (fresh decision and call samples each time)
  and reported as the median over the repeats, with ``<figure>_spread`` (max - min) and
  ``<figure>_runs`` (every repeat's value): one noisy repeat cannot decide a ratio.
* ``failover_success_rate`` under ``configs/simulation/faults.yaml`` (about 10 % faults per
  provider, every kind), with each failure's attempts listed (counted once: not a timing).
* ``budget_breaches``: 64 threads drive a nearly exhausted daily cap on the Redis store; a
  breach is any observation of committed + reserved above the cap, plus final spend above it.

Backends: ``AGENT_PLATFORM_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) for the budget
counters, ``AGENT_PLATFORM_DATABASE_URL`` (default: a migrated temporary SQLite file) for spend.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy.engine import Engine

from agent_platform.config import Settings
from agent_platform.db import create_engine_for
from agent_platform.errors import AgentPlatformError, BudgetExceededError
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.migrate import upgrade
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.factory import build_router
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.router import ModelRouter
from agent_platform.models.simulation_profile import load_profile
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.models.testing import tuned_finops, tuned_routing
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.stats import percentile
from bench._harness import emit, p95, ratio, repeat_median

PROMPT = "[agent_platform node=coder attempt=1]\nWrite add(a, b) with a pytest test."
ROOT = Path(__file__).resolve().parent.parent


def _budget(
    engine: Engine, client: redis.Redis, finops: FinOpsConfig, run_prefix: str
) -> FinOpsBudget:
    """A budget with Redis keys of its own under ``run_prefix`` (purged when the run ends)."""
    prefix = f"{run_prefix}{uuid.uuid4().hex[:8]}:"
    store = open_store(engine, finops, redis_client=client, redis_prefix=prefix)
    return FinOpsBudget(finops, load_routing(), store)


def _purge(client: redis.Redis, run_prefix: str) -> int:
    """Delete this run's Redis keys (only keys under its own prefix)."""
    keys = list(client.scan_iter(match=f"{run_prefix}*", count=1000))
    return int(client.delete(*keys)) if keys else 0


def _roomy(finops: FinOpsConfig) -> FinOpsConfig:
    huge = {"max_tokens": 10**9, "models": None}
    providers = {name: huge for name in ("openai", "anthropic", "local")}
    return tuned_finops(
        finops,
        phase_1={
            "daily_eur_cap": Decimal(10**6),
            "monthly_eur_cap": Decimal(10**7),
            "providers": providers,
        },
    )


def bench_decision(
    router: ModelRouter, client: redis.Redis, n: int, *, read_budget: bool
) -> dict[str, list[float]]:
    """What route() does before the provider call (decide, then reserve on Redis), each sample
    followed by a bare Redis PING on the same server: the floor one round trip costs on this
    machine at this moment, measured side by side."""
    samples: dict[str, list[float]] = {"decision": [], "redis_ping": []}
    for index in range(n + 100):  # the first 100 warm up caches and connections
        start = time.perf_counter()
        decision = router.decide("coding", 2000, read_budget=read_budget)
        assert decision.provider is not None and decision.model is not None
        hold = router.budget.reserve(decision.provider, decision.model, "coding", 2000)
        elapsed = (time.perf_counter() - start) * 1000.0
        router.budget.release(hold)
        start = time.perf_counter()
        client.ping()
        ping = (time.perf_counter() - start) * 1000.0
        if index >= 100:
            samples["decision"].append(elapsed)
            samples["redis_ping"].append(ping)
    return samples


def _litellm_router(sim: ProviderSimulator) -> Any:
    """The baseline: litellm's own Router over the same simulator endpoint, retries off."""
    import litellm  # our side imports it lazily through the adapter

    return litellm.Router(
        model_list=[
            {
                "model_name": "coding",
                "litellm_params": {
                    "model": "openai/gpt-4o",
                    "api_base": sim.url_for("openai") + "/v1",
                    "api_key": "simulated-key",
                    "timeout": 30,
                    "max_retries": 0,
                },
            }
        ],
        num_retries=0,
    )


Arm = Callable[[], Awaitable[None]]


def _arms(router: ModelRouter, sim: ProviderSimulator, client: httpx.AsyncClient) -> dict[str, Arm]:
    """Our routed call, litellm.Router and a raw POST: the same request to the same endpoint."""
    baseline = _litellm_router(sim)
    messages = [{"role": "user", "content": PROMPT}]
    url = sim.url_for("openai") + "/v1/chat/completions"
    body = {"model": "gpt-4o", "messages": messages, "max_tokens": 1990}
    headers = {"authorization": "Bearer simulated-key"}

    async def ours() -> None:
        result = await router.route(PROMPT, "coding", 2000)
        assert result.provider == "openai" and result.simulated

    async def theirs() -> None:
        response = await baseline.acompletion(model="coding", messages=messages, max_tokens=1990)
        assert response.choices[0].message.content

    async def raw_post() -> None:
        response = await client.post(url, json=body, headers=headers)
        assert response.json()["choices"][0]["message"]["content"]

    adapter = router.runner.caller
    assert isinstance(adapter, LiteLLMAdapter)
    request = adapter.request(router.endpoints["openai"], "gpt-4o", PROMPT, 1990, "bench")
    import litellm  # imported already by the adapter's warm-up and the baseline

    acompletion = litellm.acompletion

    async def litellm_call() -> None:
        response = await acompletion(**request)
        assert response.choices[0].message.content

    async def adapter_call() -> None:
        answer = await adapter.complete(
            "openai", "gpt-4o", PROMPT, max_tokens=1990, correlation_id="bench"
        )
        assert answer.text and answer.simulated

    return {
        "ours": ours,
        "litellm_router": theirs,
        "raw_post": raw_post,
        "adapter_call": adapter_call,
        "litellm_acompletion": litellm_call,
    }


async def time_rounds(
    arms: dict[str, Arm],
    rounds: int,
    warmup: int = 20,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """``rounds`` rounds, each calling every arm once in an order that rotates per round;
    sample ``i`` of every arm comes from round ``i``. ``warmup`` untimed rounds first. With
    ``cpu``, each call's process CPU time (ms, every thread of this process) goes there too."""
    names = list(arms)
    for _ in range(warmup):  # imports, connection pools, litellm's client cache
        for fn in arms.values():
            await fn()
    samples: dict[str, list[float]] = {name: [] for name in names}
    spent: dict[str, list[float]] = {name: [] for name in names} if cpu is None else cpu
    clock, cpu_clock = time.perf_counter, time.process_time
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start, cpu_start = clock(), cpu_clock()
            await arms[name]()
            samples[name].append((clock() - start) * 1000.0)
            spent.setdefault(name, []).append((cpu_clock() - cpu_start) * 1000.0)
    return samples


def cpu_figures(cpu: dict[str, list[float]]) -> dict[str, float]:
    """Mean process CPU per call of each arm, and ours over litellm.Router's: what the calls
    cost this process whatever the machine's load (the simulator's thread, shared by every arm,
    included; Redis's own CPU, a separate process, not)."""
    mean = {name: sum(values) / len(values) for name, values in cpu.items() if values}
    figures = {f"{name}_cpu_ms_mean": round(value, 3) for name, value in mean.items()}
    figures["routed_call_cpu_ratio_vs_litellm_router"] = round(
        ratio(mean.get("ours", math.nan), mean.get("litellm_router", math.nan)), 4
    )
    return figures


def routed_figures(samples: dict[str, list[float]]) -> dict[str, float]:
    """The routed-call figures of :func:`time_rounds` samples (see the module docstring)."""
    ours, theirs, raw = samples["ours"], samples["litellm_router"], samples["raw_post"]
    paired = [mine - floor for mine, floor in zip(ours, raw, strict=True)]
    figures = {
        "routed_call_p95_ms": round(p95(ours), 3),
        "routed_call_p50_ms": round(percentile(ours, 50), 3),
        "litellm_router_call_p95_ms": round(p95(theirs), 3),
        "litellm_router_call_p50_ms": round(percentile(theirs, 50), 3),
        "raw_post_p95_ms": round(p95(raw), 3),
        "raw_post_p50_ms": round(percentile(raw, 50), 3),
        "routed_call_p95_ratio_vs_litellm_router": round(ratio(p95(ours), p95(theirs)), 4),
        "routed_call_overhead_p95_ms": round(p95(paired), 3),
        "routed_call_overhead_p50_ms": round(percentile(paired, 50), 3),
        "routed_call_p95_minus_raw_post_p95_ms": round(p95(ours) - p95(raw), 3),
    }
    figures.update(_split(samples))
    return figures


def _split(samples: dict[str, list[float]]) -> dict[str, float]:
    """Where the overhead sits, paired per round: the adapter's call against the raw POST and
    our routed call against the adapter's call; litellm's call against both."""
    ours, raw = samples["ours"], samples["raw_post"]
    figures: dict[str, float] = {}
    adapter = samples.get("adapter_call")
    if adapter is not None:
        transport = [call - floor for call, floor in zip(adapter, raw, strict=True)]
        layer = [mine - call for mine, call in zip(ours, adapter, strict=True)]
        figures["adapter_call_p95_ms"] = round(p95(adapter), 3)
        figures["adapter_call_overhead_p95_ms"] = round(p95(transport), 3)
        figures["adapter_call_overhead_p50_ms"] = round(percentile(transport, 50), 3)
        figures["budget_and_decision_overhead_p95_ms"] = round(p95(layer), 3)
        figures["budget_and_decision_overhead_p50_ms"] = round(percentile(layer, 50), 3)
    bare = samples.get("litellm_acompletion")
    if bare is not None:  # litellm's own call, and our routed call against it
        alone = [call - floor for call, floor in zip(bare, raw, strict=True)]
        layer = [mine - call for mine, call in zip(ours, bare, strict=True)]
        figures["litellm_acompletion_p95_ms"] = round(p95(bare), 3)
        figures["litellm_acompletion_overhead_p95_ms"] = round(p95(alone), 3)
        figures["litellm_acompletion_overhead_p50_ms"] = round(percentile(alone, 50), 3)
        figures["routing_layer_overhead_p95_ms"] = round(p95(layer), 3)
        figures["routing_layer_overhead_p50_ms"] = round(percentile(layer, 50), 3)
    return figures


async def bench_failover(router: ModelRouter, n: int) -> tuple[int, list[dict[str, Any]]]:
    ok, failures = 0, []

    async def one(index: int) -> None:
        nonlocal ok
        task = ("planning", "coding", "review")[index % 3]
        try:
            await router.route(PROMPT, task, 2000)
            ok += 1
        except AgentPlatformError as exc:
            failures.append(
                {
                    "error": type(exc).__name__,
                    "detail": str(exc)[:300],
                    "attempts": getattr(exc, "attempts", None),
                }
            )

    for batch in range(0, n, 20):
        await asyncio.gather(*(one(i) for i in range(batch, min(n, batch + 20))))
    return ok, failures


def bench_breaches(
    workdir: Path, client: redis.Redis, finops: FinOpsConfig, run_prefix: str
) -> dict[str, Any]:
    """64 threads against a 0.50 EUR day on the Redis store. Its spend goes to a scratch SQLite
    file of its own, so the spend earlier phases recorded today cannot pre-fill the day."""
    cap = Decimal("0.50")
    tight = tuned_finops(_roomy(finops), phase_1={"daily_eur_cap": cap})
    url = f"sqlite:///{workdir / 'bench_router_breaches.sqlite3'}"
    upgrade(url)
    engine = create_engine_for(url)
    budget = _budget(engine, client, tight, run_prefix)
    stop, seen, counts = threading.Event(), [], {"ok": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()

    def monitor() -> None:
        while not stop.is_set():
            day = budget.get_remaining_budget().day
            seen.append(day.committed + day.reserved)

    def work() -> None:
        for _ in range(5):
            try:
                hold = budget.reserve("openai", "gpt-4o", "coding", 1000)
                budget.commit(hold, 400, 500)
                key = "ok"
            except BudgetExceededError:
                key = "refused"
            except AgentPlatformError:
                key = "errors"
            with lock:
                counts[key] += 1

    watcher = threading.Thread(target=monitor)
    watcher.start()
    workers = [threading.Thread(target=work) for _ in range(64)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    watcher.join()
    final = budget.get_remaining_budget().day
    engine.dispose()
    breaches = sum(1 for value in seen if value > cap) + (1 if final.committed > cap else 0)
    return {
        "breaches": breaches,
        "observations": len(seen),
        "final_committed_eur": str(final.committed),
        "final_committed_equals_ok_calls": final.committed == Decimal("0.005160") * counts["ok"],
        "cap_eur": str(cap),
        "spend_records": "sqlite (scratch file)",
        **counts,
    }


def _engine(settings: Settings, workdir: Path) -> Engine:
    url = settings.database_url or f"sqlite:///{workdir / 'bench_router.sqlite3'}"
    upgrade(url)
    return create_engine_for(url)


def budget_sections(router: ModelRouter, n: int) -> dict[str, float]:
    """Process CPU and wall time of the routed call's budget sections, each call apart: the
    decision, the reservation (one Redis script) and the commit of a served call's usage (one
    Redis script, then the spend row in SQL). Where the routed call's time beyond the provider
    call goes."""
    cpu: dict[str, list[float]] = {"decide": [], "reserve": [], "commit": []}
    wall: dict[str, list[float]] = {"decide": [], "reserve": [], "commit": []}
    clock, cpu_clock = time.perf_counter, time.process_time
    for index in range(n + 50):  # the first 50 warm up
        marks = [(clock(), cpu_clock())]
        decision = router.decide("coding", 2000, read_budget=False)
        marks.append((clock(), cpu_clock()))
        assert decision.provider is not None and decision.model is not None
        hold = router.budget.reserve(decision.provider, decision.model, "coding", 2000)
        marks.append((clock(), cpu_clock()))
        router.budget.commit(hold, 20, 15)
        marks.append((clock(), cpu_clock()))
        if index < 50:
            continue
        for step, name in enumerate(("decide", "reserve", "commit")):
            wall[name].append((marks[step + 1][0] - marks[step][0]) * 1000.0)
            cpu[name].append((marks[step + 1][1] - marks[step][1]) * 1000.0)
    figures: dict[str, float] = {}
    for name in cpu:
        figures[f"{name}_cpu_ms_mean"] = round(sum(cpu[name]) / n, 4)
        figures[f"{name}_section_p50_ms"] = round(percentile(wall[name], 50), 4)
        figures[f"{name}_section_p95_ms"] = round(p95(wall[name]), 4)
    return figures


def _decision_figures(router: ModelRouter, client: redis.Redis, n: int) -> dict[str, float]:
    timed = bench_decision(router, client, n, read_budget=False)
    with_read = bench_decision(router, client, n, read_budget=True)["decision"]
    decisions, pings = timed["decision"], timed["redis_ping"]
    return {
        **budget_sections(router, n // 2),
        "decision_p95_ms": round(p95(decisions), 4),
        "decision_p50_ms": round(percentile(decisions, 50), 4),
        "decision_with_budget_read_p95_ms": round(p95(with_read), 4),
        "redis_ping_p50_ms": round(percentile(pings, 50), 4),
        "redis_ping_p95_ms": round(p95(pings), 4),
        "decision_p95_ratio_vs_redis_ping": round(ratio(p95(decisions), p95(pings)), 4),
    }


async def _instant_phase(
    engine: Engine,
    client: redis.Redis,
    finops: FinOpsConfig,
    run_prefix: str,
    repeats: int,
) -> dict[str, Any]:
    """Decision and routed-call timings on the zero-latency, fault-free profile, ``repeats``
    times each; the median, spread and runs of every figure."""
    instant = load_profile(ROOT / "configs/simulation/instant.yaml")
    with ProviderSimulator(instant) as sim:
        router = build_router(
            load_routing(),
            load_residency(),
            _budget(engine, client, finops, run_prefix),
            simulator_url=sim.base_url,
            mode="simulator",
        )
        async with httpx.AsyncClient() as http:
            arms = _arms(router, sim, http)
            routed: list[dict[str, float]] = []
            for _ in range(repeats):
                cpu: dict[str, list[float]] = {}
                samples = await time_rounds(arms, 400, cpu=cpu)
                routed.append({**routed_figures(samples), **cpu_figures(cpu)})
    decisions = repeat_median(lambda: _decision_figures(router, client, 1000), repeats)
    calls = iter(routed)
    return {**decisions, **repeat_median(lambda: next(calls), repeats)}


async def _failover_phase(
    engine: Engine, client: redis.Redis, finops: FinOpsConfig, run_prefix: str
) -> dict[str, Any]:
    """Routed requests under the seeded fault profile."""
    settings = {"request_timeout_s": 0.3, "retry_delay_ms": 5, "cooldown_s": 2}
    fast = tuned_routing(load_routing(), **settings)
    with ProviderSimulator(load_profile(ROOT / "configs/simulation/faults.yaml")) as sim:
        router = build_router(
            fast,
            load_residency(),
            _budget(engine, client, finops, run_prefix),
            simulator_url=sim.base_url,
            mode="simulator",
            rng=random.Random(5),
        )
        n = 2000
        ok, failures = await bench_failover(router, n)
        faults = sum(1 for r in sim.requests() if r.fault)
        calls = len(sim.requests())
    return {
        "failover_requests": n,
        "failover_success_rate": round(ok / n, 5),
        "failover_failures": failures,
        "failover_provider_calls": calls,
        "failover_injected_faults": faults,
        "failover_settings": settings,
    }


async def main(repeats: int) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported
    settings = Settings.from_env()
    finops = _roomy(load_finops(routing=load_routing()))
    client = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
    run_prefix = f"bench:router:{uuid.uuid4().hex[:8]}:"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = _engine(settings, Path(tmp))
            instant = await _instant_phase(engine, client, finops, run_prefix, repeats)
            failover = await _failover_phase(engine, client, finops, run_prefix)
            breaches = bench_breaches(Path(tmp), client, finops, run_prefix)
            engine.dispose()
    finally:
        _purge(client, run_prefix)
        client.close()
    result = {
        "benchmark": "router",
        "simulated_provider_traffic": True,
        "backends": {
            "budget": "redis",
            "spend_records": settings.database_backend if settings.database_url else "sqlite",
        },
        **instant,
        **failover,
        "budget_breaches": breaches["breaches"],
        "budget_workers": 64,
        "budget_detail": breaches,
        "repeats": repeats,
        "pid": os.getpid(),
    }
    print(
        f"decision p95 {result['decision_p95_ms']} ms (Redis PING p95 "
        f"{result['redis_ping_p95_ms']} ms); routed call p95 ratio vs litellm.Router "
        f"{result['routed_call_p95_ratio_vs_litellm_router']} (spread "
        f"{result['routed_call_p95_ratio_vs_litellm_router_spread']}); overhead over a raw "
        f"POST p95 {result['routed_call_overhead_p95_ms']} ms (spread "
        f"{result['routed_call_overhead_p95_ms_spread']}); failover success "
        f"{result['failover_success_rate']}; breaches {breaches['breaches']}"
    )
    emit(result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of every timing")
    asyncio.run(main(parser.parse_args().repeats))
