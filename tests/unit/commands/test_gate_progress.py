"""What ``agent-platform gate`` prints while the job runs, when its output is piped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agent_platform.commands._output import Output
from agent_platform.commands.gate import _launcher_tail
from agent_platform.commands.gate_progress import GateProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_piped_output_gets_a_plain_line_every_few_seconds_and_one_per_step() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = GateProgress(out, every_s=5.0, clock=clock)
    progress({"event": "started", "run_id": "r", "total": 3})
    clock.now += 4.0
    progress({"event": "step", "step": "budget_concurrency", "ok": True, "error": None})
    for _ in range(24):  # 12 s of half-second ticks while the second step runs
        clock.now += 0.5
        progress(None)
    progress({"event": "step", "step": "budget_report", "ok": False, "error": "ValueError: x"})
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "  ✓ budget_concurrency (4.0 s)",
        "  ... 1/3 steps done, current step running 5 s, elapsed 9 s",
        "  ... 1/3 steps done, current step running 10 s, elapsed 14 s",
        "  ✗ budget_report (12.0 s): ValueError: x",
    ]
    assert progress.done == 2 and progress.failed == ["budget_report"]


def test_no_plain_line_before_the_job_started() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = GateProgress(out, every_s=5.0, clock=clock)
    clock.now += 30.0
    progress(None)
    assert out.getvalue() == ""


def test_a_terminal_gets_a_live_bar_instead_of_plain_lines() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = GateProgress(out, live=True, every_s=5.0, clock=clock)
    progress({"event": "started", "run_id": "r", "total": 2})
    clock.now += 30.0
    progress(None)
    progress({"event": "step", "step": "a", "ok": True, "error": None})
    progress.close()
    text = out.getvalue()
    assert "✓ a (30.0 s)" in text
    assert "steps done, current step running" not in text


def test_a_launcher_that_ended_without_a_run_shows_the_end_of_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "launcher.log"
    log.write_text("\n".join(f"line {n}" for n in range(20)) + "\n")
    _launcher_tail(Output(False), log, 1, lines=3)
    assert capsys.readouterr().out.splitlines() == [
        f"the Dagster launcher ended without a run (exit 1); {log} ends with:",
        "  | line 17",
        "  | line 18",
        "  | line 19",
    ]
