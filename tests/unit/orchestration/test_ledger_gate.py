"""The ledger pipeline: in-order group commits, step-bounded waits, fail-stop on an error."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent_platform.errors import LedgerConflictError
from agent_platform.orchestration.ledger_gate import LedgerPipeline


class _Writer:
    """Records each committed batch; holds the first commit until released."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, batch: list[str]) -> None:
        self.release.wait(timeout=10)
        if self.fail_on in batch:
            raise LedgerConflictError(3, 4)
        self.batches.append(list(batch))


async def test_entries_queued_during_a_commit_share_the_next_one_in_order():
    writer = _Writer()
    pipeline: LedgerPipeline[str] = LedgerPipeline(writer)
    pipeline.submit(1, "a")
    await asyncio.sleep(0.05)  # the worker is now blocked inside the first commit
    pipeline.submit(2, "b")
    pipeline.submit(3, "c")
    writer.release.set()
    await pipeline.wait_for()
    assert writer.batches == [["a"], ["b", "c"]]


async def test_waiting_for_a_step_does_not_wait_for_later_steps():
    writer = _Writer()
    pipeline: LedgerPipeline[str] = LedgerPipeline(writer)
    pipeline.submit(1, "a")
    writer.release.set()
    await pipeline.wait_for(1)
    writer.release.clear()
    pipeline.submit(2, "b")
    await asyncio.wait_for(pipeline.wait_for(1), timeout=1)  # step 2 is still held
    assert writer.batches == [["a"]]
    writer.release.set()
    await pipeline.wait_for(2)
    assert writer.batches == [["a"], ["b"]]


async def test_a_failed_commit_stops_everything_after_it():
    writer = _Writer(fail_on="b")
    writer.release.set()
    pipeline: LedgerPipeline[str] = LedgerPipeline(writer)
    pipeline.submit(1, "a")
    await pipeline.wait_for(1)
    pipeline.submit(2, "b")
    with pytest.raises(LedgerConflictError):
        await pipeline.wait_for(2)
    with pytest.raises(LedgerConflictError):
        pipeline.submit(3, "c")
    with pytest.raises(LedgerConflictError):
        pipeline.raise_if_failed()
    with pytest.raises(LedgerConflictError):
        await pipeline.wait_for(1)  # the run must not go on, whatever step is asked
    assert writer.batches == [["a"]]


async def test_an_async_writer_commits_on_the_loop_in_order_with_group_commits():
    batches: list[list[str]] = []
    gate = asyncio.Event()
    threads: set[int] = set()

    async def awrite(batch: list[str]) -> None:
        threads.add(threading.get_ident())
        await gate.wait()
        if "bad" in batch:
            raise LedgerConflictError(3, 4)
        batches.append(list(batch))

    def unused(batch: list[str]) -> None:
        raise AssertionError("the thread writer must not run when an async one is given")

    pipeline: LedgerPipeline[str] = LedgerPipeline(unused, awrite=awrite)
    pipeline.submit(1, "a")
    await asyncio.sleep(0)
    pipeline.submit(2, "b")
    pipeline.submit(3, "c")
    gate.set()
    await pipeline.wait_for()
    assert batches == [["a"], ["b", "c"]] and threads == {threading.get_ident()}
    pipeline.submit(4, "bad")
    with pytest.raises(LedgerConflictError):
        await pipeline.wait_for(4)
    with pytest.raises(LedgerConflictError):
        pipeline.submit(5, "d")
