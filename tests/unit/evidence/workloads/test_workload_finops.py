"""The FinOps month replay on a real SQLite budget store: usage both sides of the hold, and
breaches read from the store's windows."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from agent_platform.config import project_root
from agent_platform.db import create_engine_for
from agent_platform.evidence.workloads.finops import ReplayConfig, load_configs, run_finops_month


def test_two_days_commit_above_and_below_their_holds_and_list_every_window(sqlite_url: str):
    finops, routing = load_configs(project_root())
    engine = create_engine_for(sqlite_url)
    try:
        outcome = run_finops_month(engine, finops, routing, ReplayConfig(days=2))
    finally:
        engine.dispose()
    replay = outcome.replay
    assert replay.over_reserve > 0 and replay.under_reserve > 0
    assert replay.over_reserve + replay.under_reserve <= replay.requests - replay.rejected
    assert [w.window for w in outcome.windows] == [
        "day:2026-06-01",
        "day:2026-06-02",
        "month:2026-06",
    ]
    assert [w.cap_eur for w in outcome.windows] == [450.0, 450.0, 12000.0]
    day_spend = [d.daily_spend_eur for d in replay.days]
    assert [round(w.committed_eur, 2) for w in outcome.windows[:2]] == [
        round(s, 2) for s in day_spend
    ]
    assert all(w.reserved_eur == 0 for w in outcome.windows)


def test_an_overrun_past_the_cap_is_a_breach_in_the_store(sqlite_url: str):
    finops, routing = load_configs(project_root())
    phase = finops.phases[finops.active_phase]
    # A daily cap of EUR 3: a handful of requests fill it, and usage of up to 4x the estimate
    # takes the last one held under the cap past it.
    tight = phase.model_copy(update={"daily_eur_cap": Decimal(3)})
    small = finops.model_copy(update={"phases": {**finops.phases, finops.active_phase: tight}})
    engine = create_engine_for(sqlite_url)
    try:
        config = replace(ReplayConfig(days=1), overrun_margin_percent=300, underrun_percent=0)
        outcome = run_finops_month(engine, small, routing, config)
    finally:
        engine.dispose()
    day = outcome.windows[0]
    assert day.breached and day.committed_eur > 3.0
    assert outcome.replay.past_cap >= 1 and outcome.replay.over_near_cap >= 1
