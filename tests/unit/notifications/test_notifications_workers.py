"""The dispatcher's worker threads answer every row, even one whose attempt raises."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from agent_platform.notifications._workers import AttemptPool, Result
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind

STARTED = datetime(2026, 1, 2, tzinfo=UTC)


def rows(*ids: str) -> list[Any]:
    return [{"id": i} for i in ids]


def test_every_row_comes_back_once_and_a_raising_attempt_is_a_retry() -> None:
    def attempt(row: Any) -> Result:
        if row["id"] == "bad":
            raise RuntimeError("boom")
        return AttemptOutcome(OutcomeKind.DELIVERED), STARTED, 1.0

    pool = AttemptPool(attempt, workers=3, lease_s=30)
    pool.submit(rows("a", "bad", "b", "c"))
    assert sorted(pool.ids()) == ["a", "b", "bad", "c"]
    done: list[Any] = []
    while len(pool):
        done += pool.finished(timeout=5)
    pool.close()
    by_id = {row["id"]: outcome for row, outcome, _, _ in done}
    assert sorted(by_id) == ["a", "b", "bad", "c"] and len(done) == 4
    assert by_id["bad"].kind is OutcomeKind.RETRY
    assert by_id["bad"].error == "dispatcher raised RuntimeError: boom"
    assert {by_id[i].kind for i in "abc"} == {OutcomeKind.DELIVERED}


def test_finished_waits_at_most_its_timeout_and_close_lets_in_flight_rows_finish() -> None:
    release = threading.Event()

    def attempt(row: Any) -> Result:
        release.wait(10)
        return AttemptOutcome(OutcomeKind.DELIVERED), STARTED, 1.0

    pool = AttemptPool(attempt, workers=1, lease_s=30)
    pool.submit(rows("slow"))
    assert pool.finished(timeout=0.05) == []  # nothing finished yet
    assert len(pool) == 1
    release.set()
    (finished,) = pool.finished(timeout=5)
    assert finished[0]["id"] == "slow" and len(pool) == 0
    pool.close()
