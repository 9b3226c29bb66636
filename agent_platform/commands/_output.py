"""Where a command's words go: human text for people, one JSON document for scripts.

Every command takes ``--json``. Without it, the human text goes to stdout as usual. With it,
stdout carries exactly one JSON document (the command's :meth:`Output.result`, or the error
object the CLI writes on failure) and the human text moves to stderr, so
``agent-platform X --json | jq`` always parses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console

__all__ = ["Output"]


class Output:
    """The two streams of one command invocation."""

    def __init__(
        self, json_mode: bool, *, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self._stdout = stdout
        self._stderr = stderr
        self._emitted = False

    @property
    def human_stream(self) -> TextIO:
        """stdout normally, stderr in ``--json`` mode (resolved late, so capture works)."""
        if self.json_mode:
            return self._stderr or sys.stderr
        return self._stdout or sys.stdout

    def say(self, text: str = "") -> None:
        """One line of human text."""
        print(text, file=self.human_stream, flush=True)

    def console(self) -> Console:
        """A rich console on the human stream (progress bars, colours, tables)."""
        return Console(file=self.human_stream)

    def result(self, payload: Mapping[str, Any]) -> None:
        """The command's JSON document: printed in ``--json`` mode, once; ignored otherwise."""
        if not self.json_mode:
            return
        if self._emitted:
            raise RuntimeError("a command writes one JSON document; result() called twice")
        self._emitted = True
        stream = self._stdout or sys.stdout
        print(json.dumps(payload, sort_keys=True, default=str), file=stream, flush=True)

    def error(self, kind: str, message: str, exit_code: int) -> None:
        """The failure as JSON on stdout (``--json`` mode, when no result was written yet)."""
        if self.json_mode and not self._emitted:
            self.result({"error": {"type": kind, "message": message}, "exit_code": exit_code})
