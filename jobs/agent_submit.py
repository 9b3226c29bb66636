"""Submitting agent tasks to a Dagster instance's queue, and waiting for them.

Runs are created from the code location the instance's daemon also loads (the workspace file),
exactly as ``dagster job launch`` creates them (there is no public Python API for submitting a
run without the webserver), then handed to ``instance.submit_run``: with the
QueuedRunCoordinator the run waits in the queue until the daemon dequeues it within the limits
of ``configs/agent_runs.yaml``, and the run launcher starts it in a process of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.errors import ConfigError
from jobs.agent_run import AGENT_JOB_NAME
from jobs.agent_runs_config import run_tags
from jobs.agent_task import LoadedTask, phase_providers

__all__ = [
    "FINISHED",
    "SubmittedRun",
    "dagster_home",
    "open_instance",
    "open_workspace",
    "submit_tasks",
    "wait_for_runs",
]

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
DEFAULT_WORKSPACE = "workspace.yaml"


@dataclass(frozen=True)
class SubmittedRun:
    run_id: str
    task_id: str
    source: str


def dagster_home(home: Path | None = None) -> Path:
    """``home``, else ``$DAGSTER_HOME``, else ``.data/dagster_home`` (as the gate uses)."""
    import os

    return home or Path(os.environ.get("DAGSTER_HOME") or project_root() / ".data/dagster_home")


@contextmanager
def open_instance(home: Path, *, require_queue: bool = True) -> Iterator[Any]:
    """The instance of ``home``; with ``require_queue``, refuse one that does not queue runs."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.run_coordinator import QueuedRunCoordinator

    home.mkdir(parents=True, exist_ok=True)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home.resolve())))
    try:
        if require_queue and not isinstance(instance.run_coordinator, QueuedRunCoordinator):
            raise ConfigError(
                str(home / "dagster.yaml"), "run_coordinator",
                type(instance.run_coordinator).__name__,
                "QueuedRunCoordinator (write it with: python -m jobs.agent_instance --home "
                f"{home}; then start the daemon: make agent-daemon)",
            )  # fmt: skip
        yield instance
    finally:
        instance.dispose()


@contextmanager
def open_workspace(instance: Any, workspace_file: Path | None = None) -> Iterator[Any]:
    """A request context on the workspace file's code locations (servers stop on exit)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    path = workspace_file or project_root() / DEFAULT_WORKSPACE
    target = WorkspaceFileTarget(paths=[str(path)])
    with WorkspaceProcessContext(instance, target) as process:
        yield process.create_request_context()


def _agent_job(workspace: Any) -> tuple[Any, Any, Any]:
    """The code location, repository and remote job that hold the agent-run job."""
    for name, entry in workspace.get_code_location_entries().items():
        location = entry.code_location
        if location is None:
            continue
        for repo in location.get_repositories().values():
            if repo.has_job(AGENT_JOB_NAME):
                return location, repo, repo.get_full_job(AGENT_JOB_NAME)
        del name
    raise ConfigError(
        "workspace", "load_from", sorted(workspace.get_code_location_entries()),
        f"a code location defining the job {AGENT_JOB_NAME} (jobs.definitions or "
        "jobs.agent_definitions) that loads without error",
    )  # fmt: skip


def _create_run(
    instance: Any, found: tuple[Any, Any, Any], config: dict[str, Any], tags: dict[str, str]
) -> Any:
    from dagster._core.definitions.selector import JobSubsetSelector

    location, repo, remote_job = found
    selector = JobSubsetSelector(
        location_name=location.name,
        repository_name=repo.name,
        job_name=remote_job.name,
        op_selection=None,
    )
    job = location.get_job(selector)
    plan = location.get_execution_plan(
        job, config, step_keys_to_execute=None, known_state=None, instance=instance
    ).execution_plan_snapshot
    return instance.create_run(
        job_name=job.name, run_id=None, run_config=config,
        resolved_op_selection=job.resolved_op_selection,
        step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None,
        root_run_id=None, parent_run_id=None, tags={**job.tags, **tags},
        job_snapshot=job.job_snapshot, execution_plan_snapshot=plan,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
        asset_selection=None, asset_check_selection=None, asset_graph=repo.asset_graph,
    )  # fmt: skip


def submit_tasks(
    instance: Any,
    workspace: Any,
    tasks: Sequence[LoadedTask],
    op_config: dict[str, str] | None = None,
) -> list[SubmittedRun]:
    """Queue one agent run per task (its YAML inline in the run config); returns their ids."""
    found = _agent_job(workspace)
    phase, providers = phase_providers()
    submitted = []
    for loaded in tasks:
        config = {
            "ops": {"agent_task": {"config": {"task_yaml": loaded.text, **(op_config or {})}}}
        }
        run = _create_run(instance, found, config, run_tags(loaded.task_id, phase, providers))
        instance.submit_run(run.run_id, workspace)
        submitted.append(SubmittedRun(run.run_id, loaded.task_id, loaded.source))
    return submitted


def wait_for_runs(
    instance: Any, run_ids: Sequence[str], *, timeout_s: float, poll_s: float = 1.0
) -> dict[str, str]:
    """Each run's final status (``SUCCESS``/``FAILURE``/``CANCELED``), or its status at timeout."""
    deadline = time.monotonic() + timeout_s
    statuses: dict[str, str] = {}
    while True:
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            statuses[run_id] = run.status.value if run is not None else "MISSING"
        if all(s in FINISHED for s in statuses.values()) or time.monotonic() >= deadline:
            return statuses
        time.sleep(poll_s)
