"""A scenario's replay verdict is kept with the run: a replay that fails is a finding."""

from __future__ import annotations

from agent_platform.db import create_engine_for
from agent_platform.orchestration.scenarios import _replay


async def test_a_replay_that_cannot_run_is_recorded_as_a_mismatch(sqlite_url: str):
    engine = create_engine_for(sqlite_url)
    try:
        matched, detail = await _replay(engine, "no-such-run")
    finally:
        engine.dispose()
    assert matched is False
    assert detail.startswith("replay failed: ")
