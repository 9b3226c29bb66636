"""``agent-platform submit TASK_FILE… [--wait]``: queue agent tasks as Dagster runs.

Each file becomes one run of the ``agent_run`` job on the instance of ``$DAGSTER_HOME`` (else
``.data/dagster_home``, as the gate uses), its YAML inline in the run config and tagged with its
task id, phase and providers, so the QueuedRunCoordinator's limits apply; the daemon launches it
in a process of its own. Every file is validated before anything is submitted: one bad file
submits nothing (exit 2). The run ids are printed one per line (or as JSON). ``--wait`` polls
until every run has finished and exits 1 if any failed or did not finish in ``--timeout``.
An instance that does not queue runs is refused with the command that writes one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.errors import InvalidInputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    submit = subparsers.add_parser("submit", help="queue task files as agent runs on Dagster")
    submit.add_argument("task_files", type=Path, nargs="+", metavar="TASK_FILE")
    submit.add_argument("--wait", action="store_true", help="wait until every run has finished")
    submit.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)"
    )
    submit.add_argument(
        "--dagster-home", type=Path, help="instance folder (default $DAGSTER_HOME or .data/...)"
    )
    submit.add_argument(
        "--workspace", type=Path, help="workspace file the daemon loads (default workspace.yaml)"
    )
    submit.set_defaults(handler=submit_command)


def _jobs() -> Any:
    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    import jobs.agent_submit as agent_submit

    return agent_submit


def submit_command(args: argparse.Namespace) -> int:
    """Submit every file (all validated first); exit 0, or 1 when --wait saw a failed run."""
    if args.timeout <= 0:
        raise InvalidInputError(f"--timeout: got {args.timeout}; allowed: a positive number")
    agent_submit = _jobs()
    from jobs.agent_task import load_task

    tasks = [load_task(path=str(p.resolve())) for p in args.task_files]
    out = args.output
    with (
        agent_submit.open_instance(agent_submit.dagster_home(args.dagster_home)) as instance,
        agent_submit.open_workspace(instance, args.workspace) as workspace,
    ):
        runs = agent_submit.submit_tasks(instance, workspace, tasks)
        for run in runs:
            out.say(f"{run.run_id}  {run.source}  (task {run.task_id[:12]})")
        document: dict[str, Any] = {
            "runs": [{"run_id": r.run_id, "task_id": r.task_id, "file": r.source} for r in runs]
        }
        if not args.wait:
            out.result(document)
            return 0
        statuses = agent_submit.wait_for_runs(
            instance, [r.run_id for r in runs], timeout_s=args.timeout
        )
    for run in document["runs"]:
        run["status"] = statuses[run["run_id"]]
        out.say(f"{run['run_id']}  {run['status']}")
    failed = [s for s in statuses.values() if s != "SUCCESS"]
    document["failed"] = len(failed)
    out.result(document)
    return 1 if failed else 0
