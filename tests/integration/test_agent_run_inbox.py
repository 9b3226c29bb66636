"""The inbox sensor turns each task file into one run request keyed by its content's SHA-256,
skips bad files with a reason, requests nothing while the budget cap is spent, and the submit
command refuses bad input and an instance that does not queue runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dagster import SensorResult, SkipReason, build_sensor_context, instance_for_test

from agent_platform.cli import main
from agent_platform.db import create_engine_for
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing
from jobs.agent_runs_config import PHASE_TAG, TASK_TAG, InboxConfig
from jobs.agent_task import task_id_of
from jobs.inbox_sensor import build_inbox_sensor
from jobs.resources import DatabaseResource

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"


def _tick(sensor: object, instance: object, url: str) -> SensorResult | SkipReason:
    resources = {"database": DatabaseResource(url=url)}
    with build_sensor_context(instance=instance, resources=resources) as context:  # type: ignore[arg-type]
        return sensor(context)  # type: ignore[operator, no-any-return]


def test_each_task_file_becomes_one_keyed_request(sqlite_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("approve_first_pass.yaml", "critic_refinement.yaml"):
        shutil.copy(SCENARIOS / name, inbox / name)
    shutil.copy(SCENARIOS / "critic_refinement.yaml", inbox / "same_again.yml")
    (inbox / "broken.yaml").write_text("description: no title\n")
    (inbox / "notes.txt").write_text("not a task")
    sensor = build_inbox_sensor(InboxConfig(folder=str(inbox), max_per_tick=10))
    with instance_for_test() as instance:
        result = _tick(sensor, instance, sqlite_url)
    assert isinstance(result, SensorResult)
    keys = [r.run_key for r in result.run_requests or []]
    expected = {
        task_id_of((inbox / n).read_text())
        for n in ("approve_first_pass.yaml", "critic_refinement.yaml")
    }
    # the copy has the same content: the same run key, which Dagster turns into one run
    assert set(keys) == expected and len(keys) == 3
    for request in result.run_requests or []:
        assert request.tags[TASK_TAG] == request.run_key and request.tags[PHASE_TAG] == "1"
        text = request.run_config["ops"]["agent_task"]["config"]["task_yaml"]
        assert task_id_of(text) == request.run_key


def test_nothing_is_requested_while_the_cap_is_spent(sqlite_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SCENARIOS / "approve_first_pass.yaml", inbox / "task.yaml")
    routing = load_routing()
    finops = load_finops(None, routing)
    engine = create_engine_for(sqlite_url)
    budget = FinOpsBudget(finops, routing, open_store(engine, finops))
    budget.record_spend("anthropic", "claude-3-5-sonnet-20241022", "coding", 0, 60_000_000)
    engine.dispose()
    with instance_for_test() as instance:
        result = _tick(build_inbox_sensor(InboxConfig(folder=str(inbox))), instance, sqlite_url)
    assert isinstance(result, SkipReason)
    assert "daily budget cap reached" in (result.skip_message or "")
    assert (inbox / "task.yaml").exists()  # the task waits in the inbox


def test_submit_refuses_bad_input_and_an_unqueued_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    good = str(SCENARIOS / "approve_first_pass.yaml")
    assert main(["submit", good, str(bad), "--dagster-home", str(home)]) == 2
    assert "description" in capsys.readouterr().err
    assert main(["submit", good, "--dagster-home", str(home), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert "QueuedRunCoordinator" in json.dumps(error)
