"""The inbox sensor: task files dropped into a folder become agent runs, each content once.

Why a folder and not an ``agent_tasks`` table: a task is already a YAML file, the very file
``agent-platform run`` and ``submit`` take, so dropping it into a folder (a shared volume, a
``git pull`` of a tasks repository, ``scp``) needs no database credentials, no schema migration
and no writer API of ours. Exactly-once does not need a table either: the run key of each
request is the SHA-256 of the file's content, and Dagster never creates a second run for a run
key a sensor already used (the instance stores the keys), so a file seen on every tick, copied
twice or renamed is one run. The task's text goes into the run config, so the run does not
depend on the file still being there. What a table would add (transactions, remote writers
without a shared file system) ``agent-platform submit`` already gives remote clients.

Budget: while today's or this month's cap is spent the sensor requests nothing and says why;
the files simply wait in the inbox and become runs on the first tick after the window resets.
A file that is not a valid task is reported in the tick's log and skipped (it is retried on
every tick, so a fixed file is picked up). Runs already requested are looked up by their run
key so that ``max_per_tick`` new tasks are requested per tick, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from agent_platform.errors import AgentPlatformError
from jobs.agent_run import AGENT_JOB_NAME
from jobs.agent_runs_config import InboxConfig, load_agent_runs_config, run_tags
from jobs.agent_task import (
    BudgetCapReachedError,
    LoadedTask,
    check_budget,
    load_task,
    phase_providers,
)
from jobs.resources import DatabaseResource

__all__ = ["TASK_SUFFIXES", "build_inbox_sensor", "inbox_tasks"]

TASK_SUFFIXES = (".yaml", ".yml")
RUN_KEY_TAG = "dagster/run_key"


def inbox_tasks(folder: Path) -> Iterator[tuple[Path, LoadedTask | AgentPlatformError]]:
    """Each task file of ``folder``, oldest first, loaded (or the error that refused it)."""
    if not folder.is_dir():
        return
    files = [p for p in folder.iterdir() if p.suffix in TASK_SUFFIXES and p.is_file()]
    for path in sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name)):
        try:
            yield path, load_task(path=str(path))
        except AgentPlatformError as exc:
            yield path, exc


def _already_requested(context: SensorEvaluationContext, run_key: str) -> bool:
    runs = context.instance.get_run_records(
        filters=RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1
    )
    return bool(runs)


def build_inbox_sensor(
    inbox: InboxConfig | None = None, name: str = "agent_inbox_sensor"
) -> SensorDefinition:
    """The sensor over ``inbox`` (default: the ``inbox`` section of configs/agent_runs.yaml)."""
    chosen = inbox or load_agent_runs_config().inbox

    @sensor(
        name=name,
        job_name=AGENT_JOB_NAME,
        minimum_interval_seconds=chosen.interval_s,
        default_status=DefaultSensorStatus.STOPPED,
        description="Turns task YAML files dropped into the inbox folder into agent runs.",
    )
    def _inbox_sensor(
        context: SensorEvaluationContext, database: DatabaseResource
    ) -> SensorResult | SkipReason:
        folder = chosen.path()
        try:
            check_budget(database.engine)
        except BudgetCapReachedError as exc:
            return SkipReason(f"tasks wait in {folder}: {exc}")
        phase, providers = phase_providers()
        requests = []
        for path, loaded in inbox_tasks(folder):
            if isinstance(loaded, AgentPlatformError):
                context.log.warning(f"skipped {path.name}: {' '.join(str(loaded).split())}")
                continue
            if _already_requested(context, loaded.task_id):
                continue
            requests.append(_request(loaded, path, phase, providers))
            if len(requests) >= chosen.max_per_tick:
                break
        if not requests:
            return SkipReason(f"no new task files in {folder}")
        return SensorResult(run_requests=requests)

    return _inbox_sensor


def _request(loaded: LoadedTask, path: Path, phase: int, providers: list[str]) -> RunRequest:
    config = {"ops": {"agent_task": {"config": {"task_yaml": loaded.text}}}}
    tags = {**run_tags(loaded.task_id, phase, providers), "agent_platform/inbox_file": path.name}
    return RunRequest(run_key=loaded.task_id, run_config=config, tags=tags)
