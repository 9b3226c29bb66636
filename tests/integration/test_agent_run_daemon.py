"""The real daemon: submitted agent runs wait in the queue, are dequeued within the limit, run in
processes of their own and finish.

``dagster-daemon run`` is started as a subprocess on a temporary DAGSTER_HOME whose dagster.yaml
is written by ``jobs.agent_instance`` (QueuedRunCoordinator, SQLite run storage; PostgreSQL
storage is what the scale benchmark runs on and what tests/unit/test_deploy_configs.py
validates). The agent runs' own database is a fresh PostgreSQL one. With
``max_concurrent_runs: 1`` the two runs must not overlap; the enqueue and the launch are
events of each run's log (written by the coordinator and the daemon, not by the test).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType

from jobs.agent_instance import instance_config, write_instance
from jobs.agent_run import OUTCOME_TAG
from jobs.agent_runs_config import TASK_TAG, load_agent_runs_config
from jobs.agent_submit import open_instance, open_workspace, submit_tasks, wait_for_runs
from jobs.agent_task import LoadedTask, load_task

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "deploy" / "workspace_agent_runs.yaml"
SCENARIO = ROOT / "configs" / "scenarios" / "policy_violation.yaml"
_PID = re.compile(r"\(pid: (\d+)\)")


@pytest.fixture
def home(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "dagster_home"
    settings = instance_config(
        load_agent_runs_config(), max_concurrent_runs=1, dequeue_interval_s=1
    )
    write_instance(folder, settings)
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", pg_url)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "daemon.log").open("wb"),
        start_new_session=True,
    )
    try:
        yield folder
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


def _run_pids(instance: object, run_id: str) -> set[int]:
    """The pids the run's steps reported (its run worker process)."""
    records = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)  # type: ignore[attr-defined]
    return {int(m.group(1)) for r in records if (m := _PID.search(r.message or "")) is not None} | {
        r.dagster_event.pid for r in records if r.dagster_event and r.dagster_event.pid
    }


def _tasks() -> list[LoadedTask]:
    """Two different tasks (the quickest scenario, the second with another title)."""
    text = SCENARIO.read_text(encoding="utf-8")
    second = text.replace("title: Add a disk usage reporter", "title: Add a disk usage report")
    assert second != text
    return [load_task(text=text), load_task(text=second)]


def test_daemon_dequeues_and_runs_each_task_in_its_own_process(home: Path) -> None:
    tasks = _tasks()
    with open_instance(home) as instance, open_workspace(instance, WORKSPACE) as workspace:
        runs = submit_tasks(instance, workspace, tasks)
        statuses = wait_for_runs(instance, [r.run_id for r in runs], timeout_s=75, poll_s=0.5)
        assert set(statuses.values()) == {"SUCCESS"}, statuses
        records = [instance.get_run_record_by_id(r.run_id) for r in runs]
        enqueued = [
            instance.all_logs(r.run_id, of_type=DagsterEventType.RUN_ENQUEUED) for r in runs
        ]
        starting = [
            instance.all_logs(r.run_id, of_type=DagsterEventType.RUN_STARTING) for r in runs
        ]
        pids = [_run_pids(instance, r.run_id) for r in runs]
        tags = [instance.get_run_by_id(r.run_id).tags for r in runs]
    assert all(len(e) == 1 for e in enqueued) and all(len(d) == 1 for d in starting)
    assert all(len(p) == 1 for p in pids), pids
    assert pids[0].isdisjoint(pids[1]) and os.getpid() not in pids[0] | pids[1]
    first, second = sorted(records, key=lambda r: r.start_time)
    assert first.end_time <= second.start_time  # max_concurrent_runs: 1 held
    assert [t[TASK_TAG] for t in tags] == [t.task_id for t in tasks]
    assert len({t[TASK_TAG] for t in tags}) == 2
    assert [t[OUTCOME_TAG] for t in tags] == ["rejected", "rejected"]  # the policy guard's verdict
