"""Benchmark: the overhead of a governed agent run vs LangGraph with its own PostgresSaver.

One 7-step scripted run (planner, coder, critic, coder, critic, qa, approver) with trivial node
bodies (scripted model answers in-process, a QA result without pytest), so what is timed is the
machinery: ours = LangGraph + our checkpointer (LangGraph's AsyncPostgresSaver in its own schema,
gated so that no checkpoint is written before the ledger entries of its steps) + the policy
guard on every input and output + a hash-chained ledger entry per node and per run start/finish,
exactly as ``AgentRunner`` runs in production (engine from ``create_engine_for`` with its
defaults); the baseline = the same graph (same topology, same conditions, nodes that return the
same state updates) on LangGraph's AsyncPostgresSaver alone, untouched. Same server, a scratch
database created and dropped here, the two runs strictly alternated (ours, baseline, ours, ...)
so drift on a shared machine hits both alike.

A third arm, reported apart and never in the headline ratio, runs ours on an engine without
``pool_pre_ping``. On PostgreSQL a run's ledger entries now commit on the event loop over the
checkpointer's async ledger pool (see ``agent_platform.state._ledger_async``), so the engine is
off a run's hot path and this arm is expected to match ours within noise.

The measurement (``--runs`` timed runs of each arm) is repeated ``--repeats`` times (default 3)
on the same database and savers; every figure is the median over the repeats, with
``<figure>_spread`` (max - min) and ``<figure>_runs`` (each repeat's value), so one noisy
repeat cannot decide the ratio.

Run: ``uv run python -m bench.graph`` (``--runs N``, ``--repeats N``). The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade
from agent_platform.orchestration.checkpointing import libpq_url, open_checkpointer
from agent_platform.orchestration.graph_builder import compile_graph, recursion_limit
from agent_platform.orchestration.runner import AgentRunner, initial_state
from agent_platform.orchestration.scripted import ScriptedLLM, ScriptedResponse
from agent_platform.orchestration.topology import default_topology
from agent_platform.orchestration.types import GraphState, QAResult, TaskSpec
from agent_platform.schemas.policy import AgentPolicy, load_agent_policy
from agent_platform.stats import percentile
from bench._harness import emit, p95, ratio, repeat_median

ADMIN_URL = os.environ.get(
    "AGENT_PLATFORM_BENCH_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
EXPECTED = ["planner", "coder", "critic", "coder", "critic", "qa", "approver"]
TASK = TaskSpec(title="bench", description="a seven-step scripted run")
_CODE = {
    "m.py": "def f() -> int:\n    return 1\n",
    "test_m.py": "from m import f\n\n\ndef test_f():\n    assert f() == 1\n",
}
_SCRIPT = [
    ScriptedResponse(
        match=["node=planner"],
        content='{"steps": ["s"], "files_to_write": ["m.py"], "test_strategy": "t"}',
    ),
    ScriptedResponse(
        match=["node=coder"],
        content=json.dumps({"files": _CODE, "dependencies": []}),
    ),
    ScriptedResponse(
        match=["node=critic attempt=1"], content='{"needs_refinement": true, "reasons": ["again"]}'
    ),
    ScriptedResponse(
        match=["node=critic attempt=2"], content='{"needs_refinement": false, "reasons": ["ok"]}'
    ),
    ScriptedResponse(match=["node=approver"], content='{"approved": true, "reasons": ["ok"]}'),
]


def _passing_qa(files: dict[str, str]) -> QAResult:
    return QAResult(tests_run=1, passed=1, failed=0, ok=True, network_isolated=True)


@asynccontextmanager
async def _scratch_database() -> AsyncIterator[str]:
    name = f"ap_bench_graph_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(ADMIN_URL)
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def _plain_saver(url: str) -> AsyncIterator[AsyncPostgresSaver]:
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        libpq_url(url), min_size=1, max_size=4, kwargs=kwargs, open=False
    )
    await pool.open(wait=True)
    try:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver
    finally:
        await pool.close()


def _baseline_graph(policy: AgentPolicy, updates: list[dict[str, Any]], saver: Any) -> Any:
    """The same topology; node k returns the update our node k produced (no guard, no ledger)."""

    def node(name: str) -> Callable[[GraphState], Awaitable[dict[str, Any]]]:
        async def body(state: GraphState) -> dict[str, Any]:
            return dict(updates[int(state.get("step") or 0)])

        return body

    topology = default_topology(policy)
    return compile_graph(
        topology, {n.name: node(n.name) for n in topology.nodes}, checkpointer=saver
    )


async def _timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


Arm = Callable[[], Awaitable[None]]


def _ours(runner: AgentRunner) -> Arm:
    async def run() -> None:
        await runner.run(TASK)

    return run


def _plain(baseline: Any, limit: int) -> Arm:
    async def run() -> None:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": limit}
        final = await baseline.ainvoke(initial_state(TASK), config)
        if final["history"] != EXPECTED:
            raise RuntimeError(f"baseline run went {final['history']}")

    return run


async def _interleave(arms: dict[str, Arm], runs: int, chunk: int) -> dict[str, list[float]]:
    for fn in [*arms.values(), *arms.values()]:
        await fn()
    samples: dict[str, list[float]] = {name: [] for name in arms}
    while len(samples["ours"]) < runs:
        size = min(chunk, runs - len(samples["ours"]))
        for name, fn in arms.items():
            samples[name].extend(await _timed(fn, size))
    return samples


async def _measure(url: str, runs: int, chunk: int, repeats: int) -> list[dict[str, Any]]:
    """``repeats`` interleaved measurements of the three arms; one set of samples each."""
    policy = load_agent_policy()
    engine = create_engine_for(url)
    no_ping = create_engine_for(url, pool_pre_ping=False)
    updates: list[dict[str, Any]] = []
    async with open_checkpointer(url) as ours_saver, _plain_saver(url) as plain_saver:

        def runner(on: Engine) -> AgentRunner:
            llm = ScriptedLLM(_SCRIPT)
            return AgentRunner(
                engine=on, checkpointer=ours_saver, llm=llm, policy=policy, qa_runner=_passing_qa
            )

        ours_runner = runner(engine)
        first = await ours_runner.run(TASK, on_update=lambda _n, u: updates.append(u))
        if first.history != EXPECTED or not first.approved:
            raise RuntimeError(f"scripted run went {first.history}, expected {EXPECTED}")
        baseline = _baseline_graph(policy, updates, plain_saver)
        arms = {
            "ours": _ours(ours_runner),
            "langgraph": _plain(baseline, recursion_limit(default_topology(policy))),
            "ours_no_pre_ping": _ours(runner(no_ping)),
        }
        measured = [
            {"samples": await _interleave(arms, runs, chunk), "steps": len(first.history)}
            for _ in range(repeats)
        ]
    engine.dispose()
    no_ping.dispose()
    return measured


def _p50(values: list[float]) -> float:
    return percentile(values, 50)


def _figures(measured: dict[str, Any]) -> dict[str, float]:
    """The timed figures of one repeat."""
    samples = measured["samples"]
    ours, base, no_ping = samples["ours"], samples["langgraph"], samples["ours_no_pre_ping"]
    ours_p95, base_p95, no_ping_p95 = p95(ours), p95(base), p95(no_ping)
    return {
        "run_overhead_p95_ms": round(ours_p95, 3),
        "run_overhead_p50_ms": round(_p50(ours), 3),
        "langgraph_postgres_p95_ms": round(base_p95, 3),
        "langgraph_postgres_p50_ms": round(_p50(base), 3),
        "overhead_p95_ratio_vs_langgraph_postgres": round(ratio(ours_p95, base_p95), 3),
        "overhead_p50_ratio_vs_langgraph_postgres": round(ratio(_p50(ours), _p50(base)), 3),
        "per_step_p95_ms": round(ours_p95 / measured["steps"], 3),
        "without_pre_ping_p95_ms": round(no_ping_p95, 3),
        "without_pre_ping_p50_ms": round(_p50(no_ping), 3),
        "without_pre_ping_p95_ratio_vs_langgraph_postgres": round(ratio(no_ping_p95, base_p95), 3),
    }


def _report(measured: list[dict[str, Any]], runs: int) -> dict[str, Any]:
    repeats = iter(measured)
    return {
        "benchmark": "graph_run_overhead",
        "runs_each": runs,
        "repeats": len(measured),
        "steps_per_run": measured[0]["steps"],
        "node_order": EXPECTED,
        **repeat_median(lambda: _figures(next(repeats)), len(measured)),
        "target_ratio": 1.25,
        "llm": "scripted in-process answers (simulated); no pytest in qa",
        "backend": "postgresql (scratch database, dropped after)",
        "machine": platform.node(),
        "python": platform.python_version(),
    }


async def _main(runs: int, chunk: int, repeats: int) -> dict[str, Any]:
    async with _scratch_database() as url:
        await asyncio.to_thread(upgrade, url)
        measured = await _measure(url, runs, chunk, repeats)
    return _report(measured, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="timed runs of each arm, per repeat")
    parser.add_argument("--chunk", type=int, default=1, help="runs per arm before switching")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the measurement")
    args = parser.parse_args()
    emit(asyncio.run(_main(args.runs, args.chunk, args.repeats)))


if __name__ == "__main__":
    main()
