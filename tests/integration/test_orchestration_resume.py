"""Resuming runs on SQLite and PostgreSQL: a finished run is refused with its ledger untouched,
a paused run still resumes to its end."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from agent_platform.errors import InvalidInputError
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.recorder import ledger_name, read_run
from agent_platform.orchestration.runner import AgentRunner, RunFinishedError
from agent_platform.orchestration.scripted import ScriptedLLM, load_task_file
from agent_platform.orchestration.testing import scenario_path
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.state.ledger_replay import Ledger


def _runner(engine: sa.Engine, saver: Any, scenario: str) -> tuple[AgentRunner, Any]:
    task_file = load_task_file(scenario_path(scenario))
    assert task_file.simulation is not None
    llm = ScriptedLLM(list(task_file.simulation.responses))
    runner = AgentRunner(engine=engine, checkpointer=saver, llm=llm, policy=load_agent_policy())
    return runner, task_file.task()


def _ledger_state(engine: sa.Engine, run_id: str) -> tuple[list[tuple[Any, ...]], Any]:
    ledger = Ledger(engine, ledger_name(run_id))
    rows = [
        (e.seq, e.event_type, e.payload, e.checksum, e.prev_hash, e.entry_hash, e.created_at)
        for e in ledger.entries()
    ]
    return rows, ledger.head()


@pytest.mark.parametrize("scenario", ["approve_first_pass", "refinement_bound"])
async def test_resuming_a_finished_run_is_refused_and_leaves_its_ledger_as_it_was(
    engine, db_url, scenario
):
    async with open_checkpointer(db_url) as saver:
        runner, task = _runner(engine, saver, scenario)
        finished = await runner.run(task)
        assert finished.status == "finished"
        before = _ledger_state(engine, finished.run_id)
        with pytest.raises(RunFinishedError) as refused:
            await runner.resume(finished.run_id)
    after = _ledger_state(engine, finished.run_id)
    assert after == before
    assert [row[1] for row in after[0]][-1] == "run_finished"
    error = refused.value
    assert isinstance(error, InvalidInputError)
    assert error.run_id == finished.run_id
    verdict = "approved" if finished.approved else "rejected"
    assert error.outcome.startswith(verdict)
    assert f"run {finished.run_id} already finished ({verdict}" in str(error)
    assert "\n" not in str(error)


async def test_a_paused_run_still_resumes_to_its_end(engine, db_url):
    async with open_checkpointer(db_url) as saver:
        runner, task = _runner(engine, saver, "approve_first_pass")
        paused = await runner.run(task, interrupt_before=["qa"])
        assert paused.status == "paused" and paused.paused_before == ("qa",)
        resumed = await runner.resume(paused.run_id)
    assert resumed.status == "finished" and resumed.approved
    record = read_run(Ledger(engine, ledger_name(paused.run_id)), paused.run_id)
    kinds = [row[1] for row in _ledger_state(engine, paused.run_id)[0]]
    assert kinds.index("run_resumed") < kinds.index("run_finished") == len(kinds) - 1
    assert record.resumed == 1 and record.finished is not None
    assert record.last_seq == len(kinds)
