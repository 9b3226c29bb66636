"""The ledger leads the checkpoints: a failed ledger append stops the run and nothing is
checkpointed beyond what the ledger holds (real PostgreSQL, LangGraph's saver, the real ledger)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from agent_platform.db import create_engine_for
from agent_platform.errors import LedgerConflictError
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.llm import LLMRequest
from agent_platform.orchestration.recorder import ledger_name, read_run
from agent_platform.orchestration.runner import AgentRunner
from agent_platform.orchestration.scripted import ScriptedLLM, load_task_file
from agent_platform.orchestration.testing import scenario_path
from agent_platform.orchestration.types import LLMUsage
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.state.ledger_replay import Ledger

pytestmark = pytest.mark.postgres


class _IntruderLLM:
    """Answers from the script; while the critic is asked, another writer appends to the run's
    ledger (once run_started, planner and coder are in it), so the critic's append loses."""

    def __init__(self, scripted: ScriptedLLM, engine: sa.Engine) -> None:
        self.scripted = scripted
        self.engine = engine

    async def complete(self, request: LLMRequest) -> LLMUsage:
        if request.node == "critic":
            ledger = Ledger(self.engine, ledger_name(request.correlation_id.split(":")[0]))
            for _ in range(1000):
                if ledger.head()[0] >= 3:
                    break
                await asyncio.sleep(0.01)
            ledger.append_event("intruder", {"x": 1})
        return await self.scripted.complete(request)


async def test_a_lost_ledger_append_stops_the_run_and_no_checkpoint_outruns_the_ledger(pg_url):
    engine = create_engine_for(pg_url)
    task_file = load_task_file(scenario_path("approve_first_pass"))
    assert task_file.simulation is not None
    llm = _IntruderLLM(ScriptedLLM(list(task_file.simulation.responses)), engine)
    async with open_checkpointer(pg_url) as saver:
        runner = AgentRunner(engine=engine, checkpointer=saver, llm=llm, policy=load_agent_policy())
        with pytest.raises(LedgerConflictError):
            await runner.run(task_file.task())
        checkpoints = [c async for c in saver.alist(None)]
    run_id = str(checkpoints[0].config["configurable"]["thread_id"])
    record = read_run(Ledger(engine, ledger_name(run_id)), run_id)
    assert [p["node"] for _seq, p in record.nodes] == ["planner", "coder"]
    steps = {int(c.checkpoint["channel_values"].get("step", 0)) for c in checkpoints}
    assert max(steps) <= 2  # nothing checkpointed that the ledger does not hold
    engine.dispose()
