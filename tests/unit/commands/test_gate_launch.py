"""The parent's side of the launcher handshake: one Ctrl-C asks the child to cancel, a second
one (or a child that does not end within the grace period) kills it."""

from __future__ import annotations

import queue
from typing import Any

import pytest

from agent_platform.commands import gate_launch
from agent_platform.commands.gate_launch import _EOF, LaunchOutcome, _follow


class _FakeChild:
    """A child whose progress queue the test fills; it records cancel and kill calls."""

    def __init__(self, items: list[object]) -> None:
        self.events: queue.Queue[object] = queue.Queue()
        for item in items:
            self.events.put(item)
        self.calls: list[str] = []

    def cancel(self) -> None:
        self.calls.append("cancel")

    def kill(self) -> None:
        self.calls.append("kill")


def _interrupting(times: int) -> Any:
    """An event handler that raises KeyboardInterrupt on its first ``times`` calls."""
    left = [times]
    seen: list[object] = []

    def on_event(event: object) -> None:
        seen.append(event)
        if left[0] > 0:
            left[0] -= 1
            raise KeyboardInterrupt

    on_event.seen = seen  # type: ignore[attr-defined]
    return on_event


def test_one_ctrl_c_asks_the_child_to_cancel_and_keeps_following_it() -> None:
    finished = {"event": "finished", "status": "CANCELED"}
    child = _FakeChild([{"event": "started", "total": 3}, finished, _EOF])
    outcome = LaunchOutcome()
    _follow(child, _interrupting(1), outcome)  # type: ignore[arg-type]
    assert child.calls == ["cancel"]
    assert outcome.interrupted and outcome.status == "CANCELED"


def test_a_second_ctrl_c_kills_the_child() -> None:
    child = _FakeChild([{"event": "started", "total": 3}, {"event": "step", "ok": True}, _EOF])
    outcome = LaunchOutcome()
    _follow(child, _interrupting(2), outcome)  # type: ignore[arg-type]
    assert child.calls == ["cancel", "kill"]


def test_a_child_that_ignores_the_cancel_is_killed_after_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gate_launch, "CANCEL_GRACE_S", 0.0)
    monkeypatch.setattr(gate_launch, "TICK_S", 0.01)
    child = _FakeChild([{"event": "started", "total": 3}])  # never ends by itself
    outcome = LaunchOutcome()
    _follow(child, _interrupting(1), outcome)  # type: ignore[arg-type]
    assert child.calls == ["cancel", "kill"]
    assert outcome.interrupted


def test_a_failed_step_is_recorded_with_its_error() -> None:
    step = {"event": "step", "step": "budget_report", "ok": False, "error": "OSError: disk"}
    child = _FakeChild([step, {"event": "finished", "status": "FAILURE"}, _EOF])
    outcome = LaunchOutcome()
    _follow(child, lambda event: None, outcome)  # type: ignore[arg-type]
    assert outcome.failed_steps == {"budget_report": "OSError: disk"}
    assert outcome.status == "FAILURE" and not outcome.succeeded
