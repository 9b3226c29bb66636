"""The router evidence workloads on the provider simulator and a scratch SQLite budget.

Small sizes: the figures are not held to thresholds here, only what the workloads do (every
decision judged against every eligible provider's observed outcome, deterministically; every
failover request meeting an incident on its first-choice provider).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_platform.db import create_engine_for
from agent_platform.evidence.formats.router import (
    accuracy_figures,
    consistency,
    failover_figures,
    write_decisions,
    write_failover,
)
from agent_platform.evidence.hindsight import judge, parse_observations
from agent_platform.evidence.workloads.router import (
    accuracy_workload,
    failover_workload,
    run_accuracy,
    run_failover,
)
from agent_platform.evidence.workloads.router_settings import load_router_evidence
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_residency, load_routing

SETTINGS = load_router_evidence()


@pytest.fixture
def budget(sqlite_url: str) -> Iterator[FinOpsBudget]:
    routing = load_routing()
    finops = load_finops(routing=routing)
    engine = create_engine_for(sqlite_url)
    try:
        yield FinOpsBudget(finops, routing, open_store(engine, finops))
    finally:
        engine.dispose()


def _accuracy(budget: FinOpsBudget, count: int) -> list:
    settings = SETTINGS.accuracy.model_copy(update={"regime_requests": 4, "lanes": 2})
    return run_accuracy(accuracy_workload(settings, load_residency(), budget), count)


def test_every_decision_is_judged_against_every_eligible_provider(
    budget: FinOpsBudget, tmp_path: Path
) -> None:
    decisions = _accuracy(budget, 10)
    assert [d.regime for d in decisions] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    yardstick = accuracy_workload(SETTINGS.accuracy, load_residency(), budget).hindsight
    for d in decisions:
        observed = parse_observations(d.observed)
        assert [o.provider for o in observed] == ["openai", "anthropic", "local"]
        states = dict(s.split("=") for s in d.provider_states.split(";"))
        assert all(o.succeeded == (states[o.provider] != "down") for o in observed)
        verdict = judge(observed, d.actual_provider or None, yardstick)
        assert (verdict.best or "", verdict.correct) == (d.expected_provider, d.correct)
        assert d.simulated and d.decision_ms > 0
    acc, lat = tmp_path / "a.csv", tmp_path / "l.csv"
    write_decisions(acc, lat, decisions, "t")
    assert accuracy_figures(acc)["routing_accuracy__n"] == 10
    assert consistency(acc, lat) == []


def test_the_accuracy_workload_follows_from_its_seeds(budget: FinOpsBudget) -> None:
    def key(rows: list) -> list[tuple[str, ...]]:
        return [
            (d.task_type, d.provider_states, d.actual_provider, d.expected_provider, d.observed)
            for d in rows
        ]

    assert key(_accuracy(budget, 6)) == key(_accuracy(budget, 6))


def test_a_down_provider_is_never_the_pick_after_the_warm_up(budget: FinOpsBudget) -> None:
    for d in _accuracy(budget, 12):
        states = dict(s.split("=") for s in d.provider_states.split(";"))
        if d.actual_provider:
            assert states[d.actual_provider] != "down"


def test_every_failover_request_meets_an_incident_on_its_first_choice(
    budget: FinOpsBudget, tmp_path: Path
) -> None:
    settings = SETTINGS.failover.model_copy(update={"lanes": 2})
    outcomes = run_failover(failover_workload(settings, load_residency(), budget), 12)
    assert [o.request_id for o in outcomes] == [f"failover-{i:05d}" for i in range(12)]
    for o in outcomes:
        primary, kind = o.incident.split("=")
        assert kind in settings.incidents and o.simulated
        assert o.attempt_outcomes[0].split(":")[0] == primary
        assert not o.attempt_outcomes[0].endswith(":ok") and o.primary_failed
    path = tmp_path / "f.csv"
    write_failover(path, outcomes)
    figures = failover_figures(path)
    assert figures["failover_success_rate__n"] == 12
    assert figures["failover_success_rate__k"] == sum(o.succeeded for o in outcomes)
    assert figures["failover_row_mismatches"] == "none"
