"""Start the Dagster launcher of the checkout as a child process and follow it.

The library imports nothing from ``jobs/`` or ``assets/``: the job is launched by running
``python -m jobs.launch run ...`` from the checkout (see that module), which prints its
progress as JSON lines on stdout. This module reads those lines on a thread and hands them,
plus a tick every half second, to the caller's progress display.

Ctrl-C: the child runs in a session of its own, so the terminal's SIGINT reaches only this
process. Here it becomes one ``cancel`` line on the child's stdin; the child marks the Dagster
run canceling and interrupts the job, which ends CANCELED. If the child has not ended
:data:`CANCEL_GRACE_S` seconds later (or on a second Ctrl-C) it is killed and the run is
marked canceled through ``python -m jobs.launch cancel``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agent_platform.config import checkout_root
from agent_platform.errors import ConfigError

__all__ = ["CANCEL_GRACE_S", "LaunchOutcome", "LaunchRequest", "launch", "launcher_path"]

CANCEL_GRACE_S = 60.0
TICK_S = 0.5
_EOF = object()

Event = dict[str, Any]


@dataclass(frozen=True)
class LaunchRequest:
    """One run of ``g1_gate_evidence``: its id, sizes, evidence folder and Dagster home."""

    run_id: str
    scale: str
    evidence_root: Path
    dagster_home: Path
    log_path: Path


@dataclass
class LaunchOutcome:
    """How the child ended: the run's Dagster status, its exit code, whether it was
    interrupted, and the steps that failed (with their one-line error)."""

    status: str = "UNKNOWN"
    exit_code: int | None = None
    interrupted: bool = False
    failed_steps: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS" and self.exit_code == 0 and not self.interrupted


def launcher_path() -> Path:
    """``jobs/launch.py`` of the checkout; a ConfigError when this is not a source checkout."""
    path = checkout_root() / "jobs" / "launch.py"
    if not path.is_file():
        raise ConfigError(
            "checkout", "jobs/launch.py", str(path), "a source checkout with the Dagster layer"
        )
    return path


def _command(request: LaunchRequest) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jobs.launch",
        "run",
        "--run-id",
        request.run_id,
        "--scale",
        request.scale,
        "--evidence-root",
        str(request.evidence_root),
        "--dagster-home",
        str(request.dagster_home),
    ]


def _reader(stream: IO[str], events: queue.Queue[object]) -> None:
    for line in stream:
        try:
            events.put(json.loads(line))
        except json.JSONDecodeError:
            continue  # not a progress line: nothing else is written there
    events.put(_EOF)


class _Child:
    """The launcher process, its progress queue and the cancel handshake."""

    def __init__(self, request: LaunchRequest) -> None:
        root = launcher_path().parent.parent
        self.root = root
        self.request = request
        request.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = request.log_path.open("w", encoding="utf-8")
        paths = [str(root), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        self.proc = subprocess.Popen(
            _command(request),
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        self.events: queue.Queue[object] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=_reader, args=(self.proc.stdout, self.events), daemon=True).start()

    def cancel(self) -> None:
        """Ask the child to cancel the run (once)."""
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write("cancel\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            return

    def kill(self) -> None:
        """Kill the child's whole session (its own helpers too) and mark its run canceled in
        the instance from a fresh process."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        home = str(self.request.dagster_home)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jobs.launch",
                "cancel",
                "--run-id",
                self.request.run_id,
                *("--dagster-home", home),
            ],
            cwd=self.root,
            stdout=self._log,
            stderr=self._log,
            check=False,
            timeout=120,
        )

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._log.close()


def _apply(event: Event, outcome: LaunchOutcome) -> None:
    if event.get("event") == "step" and not event.get("ok"):
        outcome.failed_steps[str(event.get("step"))] = str(event.get("error") or "failed")
    elif event.get("event") == "finished":
        outcome.status = str(event.get("status"))


def _next(child: _Child, on_event: Callable[[Event | None], None], outcome: LaunchOutcome) -> bool:
    """Hand the next event (or a ``None`` tick) to ``on_event``; False once the child is done."""
    try:
        item = child.events.get(timeout=TICK_S)
    except queue.Empty:
        item = None
    if item is _EOF:
        return False
    if isinstance(item, dict):
        _apply(item, outcome)
    on_event(item if isinstance(item, dict) else None)
    return True


def _follow(
    child: _Child, on_event: Callable[[Event | None], None], outcome: LaunchOutcome
) -> None:
    """Follow the child until its progress stream ends; Ctrl-C cancels, a second one kills."""
    deadline: float | None = None
    while True:
        try:
            if not _next(child, on_event, outcome):
                return
        except KeyboardInterrupt:
            if outcome.interrupted:
                child.kill()
                return
            outcome.interrupted = True
            deadline = time.monotonic() + CANCEL_GRACE_S
            child.cancel()
        if deadline is not None and time.monotonic() > deadline:
            child.kill()
            return


def launch(request: LaunchRequest, on_event: Callable[[Event | None], None]) -> LaunchOutcome:
    """Run the job in the launcher child; returns when the child has ended."""
    outcome = LaunchOutcome()
    child = _Child(request)
    try:
        _follow(child, on_event, outcome)
        outcome.exit_code = child.proc.wait()
    finally:
        child.close()
    if outcome.exit_code == 130:
        outcome.interrupted = True
    return outcome
