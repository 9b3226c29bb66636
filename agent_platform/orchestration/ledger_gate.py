"""Keep the ledger ahead of LangGraph's checkpoints without putting its commits on the hot path.

Resume relies on one invariant: a step LangGraph has checkpointed is already in the ledger (a
resumed run reuses the ledgered LLM answers of every step it skips). Committing each node's
ledger entry inside the node keeps that invariant but serialises one commit per step with the
run. Instead, a node hands its entry to the run's :class:`LedgerPipeline` (appends in order on a
worker thread, entries that queue up during a commit share the next one) and returns; the
checkpointer is a :class:`GatedSaverMixin` subclass of LangGraph's own saver whose ``aput`` /
``aput_writes`` first wait until the entries of every step up to the one being saved are
committed (the state's ``step`` counter, which every node writes, names that step). So the
ledger still leads every checkpoint, and its commits overlap the next node and LangGraph's
checkpoint writes instead of following them.

On PostgreSQL the pipeline commits on the event loop over an async connection of the
checkpointer's (:attr:`GatedSaverMixin.ledger_connect`); elsewhere, and for a batch that writes
outbox rows in its transaction, on a worker thread through the engine.

A failed append stops the run: the entries after it are not written, the checkpoint that waits
on it raises (LangGraph re-raises background failures when the run's loop exits), and the next
node refuses to start (:meth:`LedgerPipeline.raise_if_failed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent_platform.state.ledger_replay import AsyncConnect

__all__ = ["GatedPostgresSaver", "GatedSaverMixin", "GatedSqliteSaver", "LedgerPipeline"]

T = TypeVar("T")


class LedgerPipeline(Generic[T]):
    """A run's ledger entries, committed in step order on a worker thread, several per commit.

    Entries submitted while a commit is in flight go together in the next one (group commit),
    so a burst of fast steps costs fewer transactions; ``write`` receives each batch and must
    commit it atomically (one ``append_many``).
    """

    def __init__(
        self,
        write: Callable[[list[T]], object],
        *,
        awrite: Callable[[list[T]], Awaitable[object]] | None = None,
    ) -> None:
        """``write`` commits a batch on a worker thread; ``awrite``, when given, on the loop
        instead (an async connection: no thread handoff, no wait for the GIL)."""
        self._write = write
        self._awrite = awrite
        self._queue: list[_Pending[T]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def submit(self, step: int, item: T) -> None:
        """Queue the entry of ``step`` behind everything submitted before it."""
        self.raise_if_failed()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        self._waiters.append((step, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                if self._error is None:
                    await self._commit([item for item, _ in batch])
            except Exception as exc:  # handed to every waiter and raised by wait_for()
                self._error = exc
            except BaseException as exc:  # cancelled: no waiter may hang on this batch
                self._error = exc
                _resolve(batch + self._queue, exc)
                raise
            _resolve(batch, self._error)

    async def _commit(self, items: list[T]) -> None:
        if self._awrite is not None:
            await self._awrite(items)
        else:
            await asyncio.to_thread(self._write, items)

    def raise_if_failed(self) -> None:
        """Raise the error of a failed commit (the run must not go on)."""
        if self._error is not None:
            raise self._error

    async def wait_for(self, step: int | None = None) -> None:
        """Wait until the entries of every step <= ``step`` (None: all) are committed.

        Raises the commit error when one of them failed.
        """
        self._waiters = [(s, f) for s, f in self._waiters if not f.done() or f.exception()]
        covering = [f for s, f in self._waiters if step is None or s <= step]
        if covering:
            await asyncio.shield(covering[-1])  # commits are in order: the last covers the rest
        self.raise_if_failed()

    async def settle(self) -> None:
        """Wait for the worker to finish, without raising (cleanup after an error)."""
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)


_Pending = tuple[T, "asyncio.Future[None]"]


def _resolve(batch: list[_Pending[Any]], error: BaseException | None) -> None:
    for _item, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
            done.exception()  # marked retrieved here; wait_for() raises it again


def _step_of_writes(writes: Sequence[tuple[str, Any]]) -> int | None:
    steps = [value for channel, value in writes if channel == "step" and isinstance(value, int)]
    return max(steps) if steps else None


def _step_of_checkpoint(checkpoint: Checkpoint) -> int | None:
    value = checkpoint.get("channel_values", {}).get("step")
    return value if isinstance(value, int) else None


class GatedSaverMixin:
    """Makes a LangGraph async saver wait for a thread's ledger pipeline before each write."""

    ledger_connect: AsyncConnect | None = None
    """Lends async connections to the ledger's database at ``ledger_url`` (PostgreSQL: set by
    :func:`~.checkpointing.open_checkpointer`), so a run's ledger commits on the event loop."""
    ledger_url: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pipelines: dict[str, LedgerPipeline[Any]] = {}

    @contextmanager
    def gated(self, thread_id: str, pipeline: LedgerPipeline[Any]) -> Iterator[None]:
        """While the block runs, writes for ``thread_id`` wait for ``pipeline`` first."""
        self._pipelines[thread_id] = pipeline
        try:
            yield
        finally:
            self._pipelines.pop(thread_id, None)

    async def _wait_for_ledger(self, config: RunnableConfig, step: int | None) -> None:
        thread_id = str((config.get("configurable") or {}).get("thread_id", ""))
        pipeline = self._pipelines.get(thread_id)
        if pipeline is not None:
            await pipeline.wait_for(step)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self._wait_for_ledger(config, _step_of_checkpoint(checkpoint))
        saved: RunnableConfig = await super().aput(  # type: ignore[misc]
            config, checkpoint, metadata, new_versions
        )
        return saved

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._wait_for_ledger(config, _step_of_writes(writes))
        await super().aput_writes(config, writes, task_id, task_path)  # type: ignore[misc]


class GatedPostgresSaver(GatedSaverMixin, AsyncPostgresSaver):
    """LangGraph's ``AsyncPostgresSaver``, writing a run's checkpoints only behind its ledger."""


class GatedSqliteSaver(GatedSaverMixin, AsyncSqliteSaver):
    """LangGraph's ``AsyncSqliteSaver``, writing a run's checkpoints only behind its ledger."""
