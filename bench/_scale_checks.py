"""The invariants bench.scale checks after its levels: ledgers, budget windows, notifications.

Each is read back from the stores the runs wrote, never from what the runs reported."""

from __future__ import annotations

from collections.abc import Sequence

from agent_platform.db import create_engine_for
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing
from agent_platform.state.ledger_replay import Ledger

__all__ = ["budget_breaches", "ledger_forks", "llm_usage_per_run", "lost_notifications"]


def ledger_forks(database_url: str, agent_run_ids: Sequence[str]) -> int:
    """Run ledgers that fail verification or do not hold exactly one start and one finish.

    A run executed twice (a relaunched worker, a duplicated dequeue) would leave a second
    ``run_started`` or ``run_finished``, or a broken chain; a run never executed, none.
    """
    engine = create_engine_for(database_url)
    forks = 0
    try:
        for run_id in agent_run_ids:
            ledger = Ledger(engine, f"run:{run_id}")
            kinds = [entry.event_type for entry in ledger.entries()]
            ok = ledger.verify().ok
            if not ok or kinds.count("run_started") != 1 or kinds.count("run_finished") != 1:
                forks += 1
    finally:
        engine.dispose()
    return forks


def budget_breaches(database_url: str) -> int:
    """Day and month windows whose committed plus reserved spend exceeds the cap."""
    routing = load_routing()
    finops = load_finops(routing=routing)
    engine = create_engine_for(database_url)
    try:
        status = FinOpsBudget(finops, routing, open_store(engine, finops)).get_remaining_budget()
    finally:
        engine.dispose()
    windows = [status.day, status.month, *status.tokens.values()]
    return sum(1 for w in windows if w.committed + w.reserved > w.cap)


def lost_notifications(agent_run_ids: Sequence[str], bodies: Sequence[bytes]) -> int:
    """Finished runs whose run-end notice (it names the run id) the receiver never got."""
    received = b"\n".join(bodies)
    return sum(1 for run_id in agent_run_ids if run_id.encode() not in received)


def llm_usage_per_run(database_url: str, agent_run_ids: Sequence[str]) -> dict[str, float]:
    """Median LLM calls and tokens (prompt + completion) per run, from the runs' ledgers."""
    import statistics

    engine = create_engine_for(database_url)
    calls, tokens = [], []
    try:
        for run_id in agent_run_ids:
            responses = [
                response
                for entry in Ledger(engine, f"run:{run_id}").entries()
                if entry.event_type == "node_completed"
                for response in entry.data().get("llm_responses") or []
            ]
            calls.append(len(responses))
            tokens.append(sum(r["prompt_tokens"] + r["completion_tokens"] for r in responses))
    finally:
        engine.dispose()
    if not calls:
        return {}
    return {
        "llm_calls_per_run_median": float(statistics.median(calls)),
        "tokens_per_run_median": float(statistics.median(tokens)),
        "tokens_per_run_max": float(max(tokens)),
    }
