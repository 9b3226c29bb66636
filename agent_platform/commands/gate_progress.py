"""What ``agent-platform gate`` shows while the job runs.

Steps run one after another in the launcher (the in-process executor), so a step starts when
the one before it ends: each finished step is one line with its time, and the step in
progress is timed from the previous one's end. On a terminal a live bar shows done/total
steps, the running step's time and the total elapsed (rich). When the output is piped, a
plain line repeats that every :data:`PLAIN_EVERY_S` seconds while a step runs, so a log or a
CI job shows the gate is alive (routing accuracy alone takes tens of seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["PLAIN_EVERY_S", "GateProgress"]

PLAIN_EVERY_S = 5.0

Event = dict[str, Any]


class GateProgress:
    """Turns launcher events (and ``None`` ticks) into lines and, on a terminal, a live bar."""

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        every_s: float = PLAIN_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = Console(file=stream, highlight=False, soft_wrap=True)
        self._live = stream.isatty() if live is None else live
        self._every = every_s
        self._clock = clock
        self.total = 0
        self.done = 0
        self.failed: list[str] = []
        self._begun = self._step_begun = self._last_line = clock()
        self._bar: Progress | None = None
        self._task: Any = None

    def __call__(self, event: Event | None) -> None:
        kind = event.get("event") if event else None
        if kind == "started":
            self._started(int(event.get("total") or 0) if event else 0)
        elif kind == "step" and event is not None:
            self._step(event)
        self._refresh()

    def _started(self, total: int) -> None:
        self.total = total
        self._begun = self._step_begun = self._last_line = self._clock()
        if self._live:
            columns = (
                TextColumn("[bold]g1_gate_evidence[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps · {task.fields[running]}"),
                TimeElapsedColumn(),
            )
            self._bar = Progress(*columns, console=self._console, transient=True)
            self._task = self._bar.add_task("gate", total=total, running="")
            self._bar.start()

    def _step(self, event: Event) -> None:
        now = self._clock()
        took, self._step_begun = now - self._step_begun, now
        self.done += 1
        step = escape(str(event.get("step")))
        if event.get("ok"):
            self._say(f"  [green]✓[/] {step} ({took:.1f} s)")
        else:
            self.failed.append(step)
            self._say(
                f"  [red]✗[/] {step} ({took:.1f} s): {escape(str(event.get('error') or 'failed'))}"
            )

    def _say(self, text: str) -> None:
        self._last_line = self._clock()
        self._console.print(text)

    def _refresh(self) -> None:
        now = self._clock()
        running = now - self._step_begun
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, running=f"step {running:.0f} s")
        elif self.total and now - self._last_line >= self._every:
            self._say(
                f"  ... {self.done}/{self.total} steps done, current step running "
                f"{running:.0f} s, elapsed {now - self._begun:.0f} s"
            )

    def close(self) -> None:
        """Stop the live bar (the finished lines stay)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
