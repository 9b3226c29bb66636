"""Launch the ``g1_gate_evidence`` job for ``agent-platform gate``: ``python -m jobs.launch``.

The library (``agent_platform``) imports nothing from ``jobs/`` or ``assets/``; the gate
command starts this module as a child process from the checkout and reads its progress. A
child process also makes Ctrl-C clean: the parent owns the terminal, and the child learns of
the interrupt from one ``cancel`` line on its stdin (or stdin closing: the parent is gone).

Only names Dagster exports at its top level are imported (nothing from ``dagster._core``):
``DagsterInstance.get()`` (the instance of ``$DAGSTER_HOME``, set from ``--dagster-home``),
``Definitions.resolve_job_def``, ``JobDefinition.with_hooks`` (progress, see
:mod:`jobs.progress`) and ``JobDefinition.execute_in_process``. Two instance methods outside
Dagster's ``@public`` list are used, because no public call reports a cancel for a run that
executes in-process: ``report_run_canceling`` and ``report_run_canceled``, the same calls
Dagster's own run launchers make when a run is terminated.
``execute_in_process`` rather than ``execute_job(reconstructable(...))``: it runs every step
one after another in this process, so the timed workloads never compete for the CPU with
each other (the multiprocess executor of ``execute_job`` would run them side by side on a
2-core machine and disturb the latency figures, and pay a Python start-up per step), while
the run, its events and its asset materializations still land in the instance the UI reads.

On ``cancel`` the run is first reported *canceling* to the instance, then SIGINT is raised in
this process: Dagster turns the interrupt inside a step into its execution-interrupted error
and, seeing the run canceling, ends it CANCELED (not FAILURE, not "started" forever).

Exit codes: 0 the run succeeded, 1 it failed, 130 it was canceled, 2 bad arguments.
The ``cancel`` subcommand marks a run canceled from outside, for a child that had to be killed.
"""

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from dagster import DagsterInstance, DagsterRunStatus

from jobs.progress import ProgressWriter, progress_hooks

__all__ = ["main"]

CANCEL = "cancel"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobs.launch")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run g1_gate_evidence, progress as JSON lines")
    run.add_argument("--run-id", required=True)
    run.add_argument("--scale", choices=("full", "reduced"), default="full")
    run.add_argument("--evidence-root", required=True, type=Path)
    run.add_argument("--dagster-home", required=True, type=Path)
    cancel = commands.add_parser("cancel", help="mark a run canceled in the instance")
    cancel.add_argument("--run-id", required=True)
    cancel.add_argument("--dagster-home", required=True, type=Path)
    return parser


def _instance(home: Path) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return DagsterInstance.get()


def _protocol_stream() -> TextIO:
    """The original stdout, kept for progress lines; fd 1 then points at stderr, so a stray
    ``print`` in a workload can never corrupt the protocol."""
    stream = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    return stream


def _watch_stdin(instance: DagsterInstance, run_id: str, requested: threading.Event) -> None:
    """Wait for ``cancel`` (or EOF); then report the run canceling and interrupt the job."""
    for line in sys.stdin:
        if line.strip() == CANCEL:
            break
    requested.set()
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status in _FINISHED:
        return
    if run is not None:
        instance.report_run_canceling(run, message="agent-platform gate was interrupted (Ctrl-C)")
    os.kill(os.getpid(), signal.SIGINT)


def _status(instance: DagsterInstance, run_id: str) -> str:
    """The run's status in the instance; CANCELED for a run interrupted before it existed."""
    run = instance.get_run_by_id(run_id)
    return run.status.value if run is not None else DagsterRunStatus.CANCELED.value


def _run_config(scale: str, evidence_root: Path) -> dict[str, Any]:
    return {
        "resources": {
            "evidence": {"config": {"scale": scale, "root": str(evidence_root.resolve())}}
        },
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }


def _execute(args: argparse.Namespace, instance: DagsterInstance, out: ProgressWriter) -> str:
    from jobs.definitions import G1_JOB_NAME, defs

    job = defs.resolve_job_def(G1_JOB_NAME).with_hooks(progress_hooks(out.emit))
    out.emit("started", run_id=args.run_id, job=G1_JOB_NAME, total=len(job.graph.nodes))
    # An interrupt before the run existed, or after it ended: the status below says which.
    with contextlib.suppress(KeyboardInterrupt):
        job.execute_in_process(
            run_config=_run_config(args.scale, args.evidence_root),
            instance=instance,
            run_id=args.run_id,
            raise_on_error=False,
        )
    return _status(instance, args.run_id)


def _settle_canceled(instance: DagsterInstance, run_id: str) -> str:
    """After a cancel request: a run the interrupt caught outside a step (still starting,
    or canceling) is marked canceled, so the instance never shows it running forever."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status not in _FINISHED:
        instance.report_run_canceled(run, message="agent-platform gate was interrupted (Ctrl-C)")
    return _status(instance, run_id)


def run_job(args: argparse.Namespace) -> int:
    out = ProgressWriter(_protocol_stream())
    instance = _instance(args.dagster_home)
    requested = threading.Event()
    watcher = threading.Thread(
        target=_watch_stdin, args=(instance, args.run_id, requested), daemon=True
    )
    watcher.start()
    try:
        status = _execute(args, instance, out)
    except KeyboardInterrupt:
        status = _status(instance, args.run_id)
    if requested.is_set():
        status = _settle_canceled(instance, args.run_id)
    out.emit("finished", run_id=args.run_id, status=status)
    return {"SUCCESS": 0, "CANCELED": 130}.get(status, 1)


def cancel_run(args: argparse.Namespace) -> int:
    instance = _instance(args.dagster_home)
    run = instance.get_run_by_id(args.run_id)
    if run is None or run.status in _FINISHED:
        return 0
    instance.report_run_canceled(run, message="agent-platform gate stopped the launcher")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "cancel":
        return cancel_run(args)
    return run_job(args)


if __name__ == "__main__":
    sys.exit(main())
