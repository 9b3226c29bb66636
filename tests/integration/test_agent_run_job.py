"""The agent_run job in process: a task becomes a run with typed metadata and tags; the budget
cap refuses a run before any provider call; a bad task is a one-line config error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, instance_for_test

from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing
from agent_platform.state.ledger_replay import Ledger
from jobs.agent_run import OUTCOME_TAG, agent_run
from jobs.agent_runs_config import PHASE_TAG, PROVIDER_TAG_PREFIX, TASK_TAG
from jobs.agent_task import load_task, task_id_of

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"


@pytest.fixture
def backend(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    return sqlite_url


def _run(instance: DagsterInstance, config: dict[str, str]) -> Any:
    return agent_run.execute_in_process(
        run_config={"ops": {"agent_task": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def _output_metadata(result: Any) -> dict[str, Any]:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def test_a_task_runs_with_typed_metadata_and_tags(backend: str) -> None:
    text = (SCENARIOS / "critic_refinement.yaml").read_text(encoding="utf-8")
    with instance_for_test() as instance:
        result = _run(instance, {"task_yaml": text})
        assert result.success
        meta = _output_metadata(result)
        tags = instance.get_run_by_id(result.run_id).tags
    assert meta["outcome"] == "approved"
    assert meta["refinements"] == 1 and isinstance(meta["refinements"], int)
    assert isinstance(meta["cost_eur"], float) and meta["cost_eur"] > 0
    assert meta["replay_ok"] is True and meta["simulated"] is True
    assert meta["task_id"] == task_id_of(text) == tags[TASK_TAG]
    engine = create_engine_for(backend)
    seq, head = Ledger(engine, f"run:{meta['agent_run_id']}").head()
    engine.dispose()
    assert (meta["ledger_seq"], meta["ledger_head"]) == (seq, head)
    assert tags[PHASE_TAG] == "1" and tags[OUTCOME_TAG] == "approved"
    assert {PROVIDER_TAG_PREFIX + p for p in meta["providers_used"].split(",")} <= set(tags)
    assert isinstance(meta["process_cpu_s"], float) and meta["process_cpu_s"] > 0


def test_every_run_of_the_job_carries_the_limit_tags() -> None:
    """A launchpad run has no submitter: the job's own tags are what the queue limits match."""
    assert agent_run.tags[PHASE_TAG] == "1"
    assert {PROVIDER_TAG_PREFIX + p for p in ("openai", "anthropic", "local")} <= set(
        agent_run.tags
    )


def test_the_budget_cap_refuses_the_run_before_any_call(backend: str) -> None:
    routing = load_routing()
    finops = load_finops(None, routing)
    engine = create_engine_for(backend)
    budget = FinOpsBudget(finops, routing, open_store(engine, finops))
    budget.record_spend("anthropic", "claude-3-5-sonnet-20241022", "coding", 0, 60_000_000)
    with instance_for_test() as instance:
        result = _run(instance, {"task_path": str(SCENARIOS / "approve_first_pass.yaml")})
        failure = result.failure_data_for_node("agent_task")
    with engine.connect() as conn:
        ledgers = conn.execute(sa.text("select count(*) from ledger_entries")).scalar_one()
    engine.dispose()
    assert not result.success
    assert "daily budget cap reached" in failure.error.message
    assert ledgers == 0  # nothing was started, nothing was written


def test_a_bad_task_is_one_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="title"):
        load_task(text="description: no title here\n")
    with pytest.raises(ConfigError, match="exactly one of task_yaml"):
        load_task(text="title: a\n", path=str(tmp_path / "x.yaml"))
