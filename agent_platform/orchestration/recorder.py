"""Writes a run's audit trail to the ledger and reads it back for resume and replay.

One ledger per run, named ``run:<run_id>``: appends of concurrent runs never contend, a run's
entries are read without filtering, and verification covers exactly one run. Entries:

* ``run_started``  run id, task, the policy and topology the run used (replay needs nothing else)
* ``node_completed``  node, step, input, output, LLM responses, registry answers, violations,
  the state hash after the node
* ``run_resumed``  when a stopped run was resumed from its checkpoint
* ``run_finished``  decision, node order, cost and the final state hash

An append may carry a ``then`` callback that runs inside the append's transaction, after the
entries are written, with its connection: the events the entries announce go to the
notification outbox there (``EventSink.publish(..., connection=conn)``), so the outbox rows and
the entries commit together or not at all (DESIGN.md, correctness rule 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from agent_platform.errors import LedgerError
from agent_platform.state.ledger_replay import AsyncConnect

__all__ = [
    "NODE_EVENT",
    "Event",
    "RunLedger",
    "RunRecord",
    "RunRecorder",
    "ledger_name",
    "node_events",
    "read_run",
    "started_event",
]

NODE_EVENT = "node_completed"
_PREFIX = "run:"


class _Entry(Protocol):
    seq: int
    event_type: str

    def data(self) -> Any: ...


class RunLedger(Protocol):
    """The part of :class:`agent_platform.state.ledger_replay.Ledger` a run uses."""

    name: str

    def append_event(
        self, event_type: str, payload: Any, *, expected_seq: int | None = None
    ) -> Any: ...

    def append_many(
        self, events: Any, *, expected_seq: int | None = None, connection: Connection | None = None
    ) -> list[Any]: ...

    async def append_many_async(
        self, events: Any, *, expected_seq: int, connect: AsyncConnect
    ) -> list[Any]: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def entries(self, start: int = 0) -> Iterator[Any]: ...


def ledger_name(run_id: str) -> str:
    """The ledger a run writes to."""
    return f"{_PREFIX}{run_id}"


@dataclass
class RunRecord:
    """Everything a run's ledger holds, decoded."""

    run_id: str
    started: dict[str, Any]
    nodes: list[tuple[int, dict[str, Any]]]
    finished: dict[str, Any] | None
    resumed: int
    last_seq: int = 0
    """The seq of the last entry read: a writer that appends at ``last_seq + 1`` loses the
    compare-and-set if anything (a ``run_finished`` of another process) was appended since."""

    def node_at_step(self, step: int) -> tuple[int, dict[str, Any]] | None:
        for seq, payload in self.nodes:
            if payload["step"] == step:
                return seq, payload
        return None


def read_run(ledger: RunLedger, run_id: str) -> RunRecord:
    """Decode a run's ledger; raises LedgerError when it holds no ``run_started`` entry."""
    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    nodes: list[tuple[int, dict[str, Any]]] = []
    resumed = last_seq = 0
    for entry in ledger.entries():
        last_seq = int(entry.seq)
        data = entry.data()
        if entry.event_type == "run_started":
            started = data
        elif entry.event_type == NODE_EVENT:
            nodes.append((entry.seq, data))
        elif entry.event_type == "run_finished":
            finished = data
        elif entry.event_type == "run_resumed":
            resumed += 1
    if started is None:
        raise LedgerError(f"ledger {ledger.name!r} holds no run_started entry for run {run_id}")
    return RunRecord(run_id, started, nodes, finished, resumed, last_seq)


Event = tuple[str, dict[str, Any]]
"""One ledger event of a run: (event type, payload without the run id)."""


def started_event(task: dict[str, Any], policy: dict[str, Any], topology: dict[str, Any]) -> Event:
    """The ``run_started`` event: everything replay needs besides the node entries."""
    return ("run_started", {"task": task, "policy": policy, "topology": topology})


def node_events(payload: dict[str, Any], finished: dict[str, Any] | None) -> list[Event]:
    """A node's entry, followed by the run's end when that node decided it."""
    events: list[Event] = [(NODE_EVENT, payload)]
    if finished is not None:
        events.append(("run_finished", finished))
    return events


class RunRecorder:
    """Appends a run's entries with compare-and-set on the sequence number it expects."""

    def __init__(self, ledger: RunLedger, run_id: str, next_seq: int = 1) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self._next = next_seq

    def append(
        self, events: Sequence[Event], *, then: Callable[[Connection], object] | None = None
    ) -> int:
        """Append ``events`` in one transaction at the expected seq; returns the first seq.

        ``then`` runs in that transaction once the entries are written (to write the outbox
        rows of the events they announce); when it raises, nothing is committed.

        Raises:
            LedgerConflictError: another writer appended to this run's ledger; nothing written.
        """
        stamped = [(kind, {"run_id": self.run_id, **payload}) for kind, payload in events]
        if then is None:
            entries = self.ledger.append_many(stamped, expected_seq=self._next)
        else:
            with self.ledger.transaction() as conn:
                entries = self.ledger.append_many(stamped, expected_seq=self._next, connection=conn)
                then(conn)
        self._next = int(entries[-1].seq) + 1
        return int(entries[0].seq)

    async def append_async(self, events: Sequence[Event], connect: AsyncConnect) -> int:
        """:meth:`append` awaited on the event loop over ``connect`` (no ``then``: entries
        only, at most ``MAX_ONE_STATEMENT`` of them); returns the first seq."""
        stamped = [(kind, {"run_id": self.run_id, **payload}) for kind, payload in events]
        entries = await self.ledger.append_many_async(
            stamped, expected_seq=self._next, connect=connect
        )
        self._next = int(entries[-1].seq) + 1
        return int(entries[0].seq)

    def started(
        self, task: dict[str, Any], policy: dict[str, Any], topology: dict[str, Any]
    ) -> int:
        return self.append([started_event(task, policy, topology)])

    def resumed(self, from_step: int) -> int:
        return self.append([("run_resumed", {"from_step": from_step})])

    def node(self, payload: dict[str, Any], finished: dict[str, Any] | None = None) -> int:
        """Append a node entry; with ``finished``, the run's end in the same transaction."""
        return self.append(node_events(payload, finished))

    def finished(
        self, payload: dict[str, Any], *, then: Callable[[Connection], object] | None = None
    ) -> int:
        return self.append([("run_finished", payload)], then=then)
