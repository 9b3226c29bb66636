"""A run's events reach the outbox in the same transaction as the ledger entries announcing them
(DESIGN.md rule 4), on PostgreSQL and SQLite, with the real publisher, ledger and checkpointer:
a failure in the publish rolls the entries back, a lost ledger append leaves no outbox row."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent_platform.errors import LedgerConflictError
from agent_platform.notifications import NotificationPublisher
from agent_platform.notifications.tables import outbox
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.llm import LLMRequest
from agent_platform.orchestration.recorder import ledger_name, read_run
from agent_platform.orchestration.runner import AgentRunner, RunResult
from agent_platform.orchestration.scripted import ScriptedLLM, ScriptedResponse, load_task_file
from agent_platform.orchestration.testing import scenario_path
from agent_platform.orchestration.types import LLMUsage, QAResult
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.state.ledger_replay import Ledger
from tests.support.receivers import fast_config, new_webhook_secret

SECRET_ENV = "TEST_RUN_HOOK_SECRET"
FULL = ["planner", "coder", "critic", "qa", "approver"]


class InjectedFailure(Exception):
    """Raised by the failing sink after it has written its outbox rows."""


@pytest.fixture
def publisher(engine: sa.Engine) -> NotificationPublisher:
    hook = {
        "name": "runs",
        "type": "webhook",
        "url": "http://127.0.0.1:9/runs",  # never dialled: these tests only enqueue
        "secret_env": SECRET_ENV,
        "events": ["agent_run.*"],
    }
    return NotificationPublisher(
        engine, fast_config([hook]), environ={SECRET_ENV: new_webhook_secret()}
    )


class FailingSink:
    """The real publisher, raising right after it wrote the rows of ``fail_on`` events."""

    def __init__(self, inner: NotificationPublisher, fail_on: str) -> None:
        self.inner = inner
        self.fail_on = fail_on

    def publish(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        notification_id = self.inner.publish(
            event_type, payload, correlation_id=correlation_id, connection=connection
        )
        if event_type == self.fail_on:
            raise InjectedFailure(f"publish of {event_type} failed after writing its rows")
        return notification_id


class IntruderLLM:
    """Answers from the script; when the approver is asked, another writer appends to the run's
    ledger once the five entries before the approver's are in, so the approver's append loses."""

    def __init__(self, scripted: ScriptedLLM, engine: sa.Engine) -> None:
        self.scripted = scripted
        self.engine = engine

    async def complete(self, request: LLMRequest) -> LLMUsage:
        if request.node == "approver":
            ledger = Ledger(self.engine, ledger_name(request.correlation_id.split(":")[0]))
            for _ in range(1000):
                if ledger.head()[0] >= 5:
                    break
                await asyncio.sleep(0.01)
            ledger.append_event("intruder", {"x": 1})
        return await self.scripted.complete(request)


def _passing_qa(_files: dict[str, str]) -> QAResult:
    return QAResult(tests_run=1, passed=1, failed=0, ok=True, network_isolated=True)


def _outbox_types(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.event_type).order_by(outbox.c.id)).scalars())


def _responses(planted: ScriptedResponse | None = None) -> list[ScriptedResponse]:
    simulation = load_task_file(scenario_path("approve_first_pass")).simulation
    assert simulation is not None
    return [*([planted] if planted else []), *simulation.responses]


async def _run(url: str, engine: sa.Engine, events: Any, llm: Any = None) -> RunResult:
    task = load_task_file(scenario_path("approve_first_pass")).task()
    async with open_checkpointer(url) as saver:
        runner = AgentRunner(
            engine=engine,
            checkpointer=saver,
            llm=llm or ScriptedLLM(_responses()),
            policy=load_agent_policy(),
            qa_runner=_passing_qa,
            events=events,
        )
        return await runner.run(task)


def _only_run_id(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT DISTINCT ledger FROM ledger_entries")).scalars()
        (name,) = list(names)
    return str(name).removeprefix("run:")


async def test_the_runs_end_and_its_outbox_row_commit_together(db_url, engine, publisher):
    result = await _run(db_url, engine, publisher)
    assert result.approved and result.history == FULL
    assert _outbox_types(engine) == ["agent_run.approved"]
    with engine.connect() as conn:
        row = conn.execute(sa.select(outbox)).mappings().one()
    assert row["correlation_id"] == result.run_id
    record = read_run(Ledger(engine, ledger_name(result.run_id)), result.run_id)
    assert record.finished is not None and record.finished["decision"]["approved"] is True


async def test_a_failed_publish_rolls_back_the_entries_of_its_transaction(
    db_url, engine, publisher
):
    with pytest.raises(InjectedFailure):
        await _run(db_url, engine, FailingSink(publisher, "agent_run.approved"))
    assert _outbox_types(engine) == []  # the rows the sink wrote went with the rollback
    run_id = _only_run_id(engine)
    record = read_run(Ledger(engine, ledger_name(run_id)), run_id)
    nodes = [p["node"] for _seq, p in record.nodes]
    # The entries still queued behind the failed commit's batch never commit; what is in the
    # ledger is a prefix of the run without the approver's entry.
    assert nodes == FULL[: len(nodes)] and "approver" not in nodes
    assert record.finished is None
    assert Ledger(engine, ledger_name(run_id)).verify().ok


async def test_a_failed_violation_publish_rolls_back_the_violating_nodes_entries(
    db_url, engine, publisher
):
    planted = ScriptedResponse(
        match=["node=planner"],
        content='{"steps": ["x"], "files_to_write": ["../escape.py"], "test_strategy": "t"}',
    )
    sink = FailingSink(publisher, "agent_run.policy_violation")
    with pytest.raises(InjectedFailure):
        await _run(db_url, engine, sink, ScriptedLLM(_responses(planted)))
    assert _outbox_types(engine) == []
    run_id = _only_run_id(engine)
    record = read_run(Ledger(engine, ledger_name(run_id)), run_id)
    assert record.nodes == [] and record.finished is None  # only run_started is in
    assert Ledger(engine, ledger_name(run_id)).head()[0] == 1


async def test_a_lost_ledger_append_leaves_no_outbox_row(db_url, engine, publisher):
    llm = IntruderLLM(ScriptedLLM(_responses()), engine)
    with pytest.raises(LedgerConflictError):
        await _run(db_url, engine, publisher, llm)
    assert _outbox_types(engine) == []
    run_id = _only_run_id(engine)
    record = read_run(Ledger(engine, ledger_name(run_id)), run_id)
    assert record.finished is None
    assert "approver" not in [p["node"] for _seq, p in record.nodes]
