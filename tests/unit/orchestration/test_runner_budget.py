"""Budget and parse failures end a run rejected and recorded, on the embedded SQLite default."""

from __future__ import annotations

from typing import Any

from agent_platform.db import create_engine_for
from agent_platform.errors import BudgetExceededError
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.llm import LLMRequest
from agent_platform.orchestration.replay import replay_run
from agent_platform.orchestration.runner import AgentRunner
from agent_platform.orchestration.scripted import ScriptedLLM, ScriptedResponse
from agent_platform.orchestration.types import LLMUsage, TaskSpec
from agent_platform.schemas.policy import load_agent_policy

TASK = TaskSpec(title="t", description="d")


class _Broke:
    async def complete(self, request: LLMRequest) -> LLMUsage:
        raise BudgetExceededError("daily cap of EUR 450 reached")


async def _run(sqlite_url: str, llm: Any, **kw: Any):
    engine = create_engine_for(sqlite_url)
    async with open_checkpointer(sqlite_url) as saver:
        runner = AgentRunner(
            engine=engine, checkpointer=saver, llm=llm, policy=load_agent_policy(), **kw
        )
        return await runner.run(TASK), engine


async def test_an_exhausted_budget_stops_the_node_before_it_runs(sqlite_url):
    asked: list[str] = []

    def exhausted(task: str) -> bool:
        asked.append(task)
        return True

    result, _ = await _run(sqlite_url, _Broke(), budget_exhausted=exhausted)
    assert asked == ["planning"] and result.history == ["planner"]
    assert result.violations[0]["rule"] == "budget_exhausted"


async def test_a_budget_error_from_the_router_is_a_budget_violation(sqlite_url):
    result, engine = await _run(sqlite_url, _Broke())
    assert result.decision is not None and not result.decision["approved"]
    assert result.violations[0]["stage"] == "budget"
    assert "daily cap" in result.violations[0]["detail"]
    assert (await replay_run(engine, result.run_id)).ok


async def test_an_unparseable_answer_ends_the_run_with_the_reason(sqlite_url):
    llm = ScriptedLLM([ScriptedResponse(match="node=planner", content="I cannot do that")])
    result, _ = await _run(sqlite_url, llm)
    assert result.history == ["planner"] and result.state["failures"][0]["node"] == "planner"
    assert "could not be parsed" in result.decision["reasons"][0]
