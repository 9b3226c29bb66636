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
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from agent_platform.config import project_root
from agent_platform.errors import AgentPlatformError, InvalidInputError

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


def _child(args: argparse.Namespace, log: IO[str]) -> subprocess.Popen[str]:
    """The Dagster side (:mod:`jobs.submit_main`) as a child of the checkout: the library
    imports nothing from ``jobs/``."""
    command = [sys.executable, "-m", "jobs.submit_main", *map(str, args.task_files)]
    command += ["--timeout", str(args.timeout)] + (["--wait"] if args.wait else [])
    for flag, value in (("--dagster-home", args.dagster_home), ("--workspace", args.workspace)):
        if value is not None:
            command += [flag, str(Path(value).resolve())]
    return subprocess.Popen(
        command, cwd=project_root(), stdout=subprocess.PIPE, stderr=log, text=True
    )


def _documents(child: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    """The child's JSON lines as they come; its other output stays in its log pipe."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("{"):
            yield json.loads(line)


def _fail(child: subprocess.Popen[str], document: dict[str, Any] | None) -> None:
    """Translate the child's error into the CLI's typed errors (exit 2 or 1)."""
    code = child.wait()
    if document is not None and "error" in document:
        if code == 2:
            raise InvalidInputError(document["error"])
        raise AgentPlatformError(document["error"])
    raise AgentPlatformError(
        f"submit: the Dagster side (python -m jobs.submit_main) exited {code} without an answer"
    )


def submit_command(args: argparse.Namespace) -> int:
    """Submit every file (all validated first); exit 0, or 1 when --wait saw a failed run."""
    if args.timeout <= 0:
        raise InvalidInputError(f"--timeout: got {args.timeout}; allowed: a positive number")
    # The child's own logging goes to a file, never a pipe nobody drains during --wait.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        return _run(args, _child(args, log))


def _run(args: argparse.Namespace, child: subprocess.Popen[str]) -> int:
    out = args.output
    documents = _documents(child)
    first = next(documents, None)
    if first is None or "runs" not in first:
        _fail(child, first)
    assert first is not None
    for run in first["runs"]:
        out.say(f"{run['run_id']}  {run['file']}  (task {run['task_id'][:12]})")
    document: dict[str, Any] = {"runs": first["runs"]}
    if not args.wait:
        child.wait()
        out.result(document)
        return 0
    second = next(documents, None)
    if second is None or "statuses" not in second:
        _fail(child, second)
    assert second is not None
    child.wait()
    statuses: dict[str, str] = second["statuses"]
    for run in document["runs"]:
        run["status"] = statuses[run["run_id"]]
        out.say(f"{run['run_id']}  {run['status']}")
    failed = [s for s in statuses.values() if s != "SUCCESS"]
    document["failed"] = len(failed)
    out.result(document)
    return 1 if failed else 0
