"""The state-fabric workload on the embedded default: a declared trace, measured, judged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from agent_platform.db import create_engine_for
from agent_platform.errors import InvalidInputError
from agent_platform.evidence.formats import state
from agent_platform.evidence.workloads.state_fabric import (
    AccessPattern,
    access_trace,
    run_state_fabric,
)
from agent_platform.migrate import upgrade
from agent_platform.state.cache import MemoryTTLCache


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    upgrade(url)
    return create_engine_for(url)


def test_the_trace_follows_the_pattern_and_its_seed() -> None:
    pattern = AccessPattern(sessions=50, operations=4000, rounds=2, zipf_s=1.1, write_share=0.2)
    rounds = access_trace(pattern)
    assert rounds == access_trace(pattern) and len(rounds) == 2
    calls = rounds[0]
    saves = sum(op == "save" for op, _ in calls) / len(calls)
    assert 0.17 < saves < 0.23
    first = sum(key == 0 for _, key in calls)
    tenth = sum(key == 9 for _, key in calls)
    assert 8 < first / tenth < 16  # Zipf(1.1): rank 1 over rank 10 is 10**1.1 ~ 12.6
    assert access_trace(AccessPattern(sessions=50, operations=4000, seed=1)) != rounds[:1]


@pytest.mark.parametrize(
    "bad",
    [{"sessions": 0}, {"operations": 0}, {"write_share": 1.0}, {"ttl_s": 0.0}, {"rounds": True}],
)
def test_a_bad_pattern_is_refused(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"sessions": 10, "operations": 10, **bad}
    with pytest.raises(InvalidInputError):
        AccessPattern(**args)  # type: ignore[arg-type]


def test_a_working_cache_reaches_the_ideal_and_expiries_happen(
    engine: Engine, tmp_path: Path
) -> None:
    pattern = AccessPattern(sessions=30, operations=400, rounds=2, ttl_s=0.02)
    run = run_state_fabric(engine, MemoryTTLCache(), pattern, tag="t")
    gets = [s for s in run.samples if s.operation == "get"]
    saves = [s for s in run.samples if s.operation == "save"]
    assert len(gets) + len(saves) == 800
    assert len([s for s in run.samples if s.operation == "ledger_append"]) == len(saves)
    path = tmp_path / "state.csv"
    state.write(path, run.samples, "2026-01-01T00:00:00Z", pattern.ttl_s)
    figures = state.figures(path)
    assert figures["cache_hit_ratio__n"] == len(gets)
    assert figures["hit_ratio_vs_ideal"] >= 0.98  # type: ignore[operator]
    # With a 20 ms TTL some entries expire within a round: the ideal itself misses more
    # than the first read of each session.
    distinct = len({(s.round, s.session) for s in gets})
    assert len(gets) - int(figures["ideal_hits"]) > distinct // 2
    assert state.consistency(path) == []


class _NoCache(MemoryTTLCache):
    """A cache that stores nothing: every read misses."""

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        return None

    def set_many(self, items: object, ttl_seconds: float) -> None:
        return None

    def add_many(self, items: object, ttl_seconds: float) -> None:
        return None


def test_a_cache_that_stores_nothing_is_far_from_the_ideal(engine: Engine, tmp_path: Path) -> None:
    pattern = AccessPattern(sessions=20, operations=300, ttl_s=5.0)
    run = run_state_fabric(engine, _NoCache(), pattern, tag="n")
    path = tmp_path / "state.csv"
    state.write(path, run.samples, "2026-01-01T00:00:00Z", pattern.ttl_s)
    figures = state.figures(path)
    assert figures["cache_hit_ratio"] == 0.0 and figures["hit_ratio_vs_ideal"] == 0.0
    assert float(figures["ideal_hit_ratio"]) > 0.8


def test_hits_no_cache_could_have_made_are_found(engine: Engine, tmp_path: Path) -> None:
    pattern = AccessPattern(sessions=20, operations=200, ttl_s=5.0)
    run = run_state_fabric(engine, MemoryTTLCache(), pattern, tag="f")
    forged = [
        state.LatencySample(**{**s.__dict__, "outcome": "hit"}) if s.operation == "get" else s
        for s in run.samples
    ]
    path = tmp_path / "state.csv"
    state.write(path, forged, "2026-01-01T00:00:00Z", pattern.ttl_s)
    assert any("ideal cache" in p for p in state.consistency(path))
