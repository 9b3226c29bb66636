"""``python -m jobs.submit_main``: the Dagster side of ``agent-platform submit``, in a child.

The library never imports the Dagster layer, so the command runs this module as a child
process of the checkout (as the gate runs :mod:`jobs.launch`). It writes JSON lines on stdout:
``{"runs": [...]}`` once every file is validated and queued, then, with ``--wait``,
``{"statuses": {...}}``; an input or configuration error is ``{"error": ..., "kind": ...}``
with exit 2, any other of the platform's errors the same with exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_platform.errors import AgentPlatformError, ConfigError, InvalidInputError
from jobs.agent_submit import dagster_home, open_instance, open_workspace, submit_tasks
from jobs.agent_submit import wait_for_runs as wait_for
from jobs.agent_task import load_task


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobs.submit_main")
    parser.add_argument("task_files", type=Path, nargs="+")
    parser.add_argument("--dagster-home", type=Path)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600.0)
    return parser


def _emit(document: dict[str, object]) -> None:
    print(json.dumps(document), flush=True)


def _submit(args: argparse.Namespace) -> None:
    tasks = [load_task(path=str(p.resolve())) for p in args.task_files]
    with (
        open_instance(dagster_home(args.dagster_home)) as instance,
        open_workspace(instance, args.workspace) as workspace,
    ):
        runs = submit_tasks(instance, workspace, tasks)
        _emit(
            {"runs": [{"run_id": r.run_id, "task_id": r.task_id, "file": r.source} for r in runs]}
        )
        if args.wait:
            ids = [r.run_id for r in runs]
            _emit({"statuses": wait_for(instance, ids, timeout_s=args.timeout)})


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _submit(args)
    except (ConfigError, InvalidInputError) as exc:
        _emit({"error": " ".join(str(exc).split()), "kind": type(exc).__name__})
        return 2
    except AgentPlatformError as exc:
        _emit({"error": " ".join(str(exc).split()), "kind": type(exc).__name__})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
