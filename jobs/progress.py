"""Step progress of a launched run, as one JSON object per line for the process that waits.

``agent-platform gate`` runs the job in a child process (:mod:`jobs.launch`) and shows
progress from what the child writes here. The events come from Dagster's public hook API
(``success_hook`` / ``failure_hook`` attached with ``JobDefinition.with_hooks``), so no
private event-log reader is needed: a hook fires in the step's process right after the step
ends. Lines:

* ``{"event": "started", "run_id": ..., "job": ..., "total": N}``: N steps in the job;
* ``{"event": "step", "step": KEY, "ok": true|false, "error": "one line" | null}``;
* ``{"event": "finished", "run_id": ..., "status": "SUCCESS" | "FAILURE" | "CANCELED" | ...}``.
"""

import json
import threading
from collections.abc import Callable
from typing import Any, TextIO

from dagster import HookContext, HookDefinition, failure_hook, success_hook

__all__ = ["ProgressWriter", "progress_hooks"]

_ERROR_CHARS = 300


class ProgressWriter:
    """Writes progress events to one stream, one flushed line each, from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def _one_line(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def progress_hooks(emit: Callable[..., None]) -> set[HookDefinition]:
    """A success and a failure hook that report each finished step through ``emit``."""

    @success_hook(name="gate_progress_success")
    def _step_succeeded(context: HookContext) -> None:
        emit("step", step=context.step_key, ok=True, error=None)

    @failure_hook(name="gate_progress_failure")
    def _step_failed(context: HookContext) -> None:
        emit("step", step=context.step_key, ok=False, error=_one_line(context.op_exception))

    return {_step_succeeded, _step_failed}
