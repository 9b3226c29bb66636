"""The outbox's write side: enqueue rows, claim due rows under a lease, record attempts.

All SQL of the dispatcher lives here, free of delivery logic. Claiming is one statement on both
backends: ``UPDATE outbox ... WHERE id IN (SELECT ... LIMIT n) RETURNING``, with ``FOR UPDATE
SKIP LOCKED`` in the sub-select on PostgreSQL so concurrent dispatchers never wait on each other
(SQLite serialises writers, so the single statement is already atomic); it can skip, in the same
statement, destinations whose circuit has tripped or that a 410 disabled. A lease
(``claimed_by``/``claimed_until``) that expires because its dispatcher died makes the row due
again. Recording attempts updates the rows, the attempt log and the destinations' circuits in
one transaction (on PostgreSQL one statement, see :mod:`._pg_record`).

On PostgreSQL every self-contained single statement runs in autocommit: the statement is its own
transaction, so the ``BEGIN`` and ``COMMIT`` round trips a wrapping transaction costs are saved
(they were a third of a claim's latency).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from agent_platform._dberror import describe
from agent_platform.db import is_postgres
from agent_platform.errors import StorageError
from agent_platform.notifications._claim_sql import claim_statement
from agent_platform.notifications._pg_record import record_in_one_statement
from agent_platform.notifications.ids import as_utc
from agent_platform.notifications.tables import (
    OutboxStatus,
    delivery_attempts,
    destination_state,
    outbox,
)
from agent_platform.notifications.wakeup import announcement

__all__ = [
    "AttemptWrite",
    "DestinationCircuit",
    "OutboxStatus",
    "claim_due",
    "count_pending",
    "disable_destination",
    "enable_destination",
    "enqueue_transaction",
    "ensure_destination_states",
    "extend_lease",
    "insert_rows",
    "load_destination_states",
    "mark_disabled_rows",
    "record_attempts",
]


_TS = sa.DateTime(timezone=True)


@dataclass(frozen=True)
class DestinationCircuit:
    """One row of ``destination_state``, as the dispatcher reads it."""

    destination: str
    disabled: bool
    consecutive_failures: int
    circuit_open_until: datetime | None

    def is_open(self, now: datetime) -> bool:
        return self.circuit_open_until is not None and self.circuit_open_until > now

    def is_half_open(self, now: datetime, threshold: int) -> bool:
        """Enough failures to have opened, and the open period is over: time for one probe."""
        return self.consecutive_failures >= threshold and not self.is_open(now)


@dataclass(frozen=True)
class AttemptWrite:
    """Everything recorded about one finished attempt."""

    outbox_id: str
    notification_id: str
    destination: str
    correlation_id: str
    attempt: int
    status: str
    http_status: int | None
    latency_ms: float
    error: str | None
    started_at: datetime
    row_status: str
    next_attempt_at: datetime | None
    circuit_failure: bool | None  # True failure, False success, None neither (410, refusal)


# Built once: a statement object reused is found in SQLAlchemy's compiled cache without
# re-deriving its cache key on every publish.
_INSERTS = {False: outbox.insert(), True: outbox.insert().returning(announcement())}


def insert_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows in the connection's current transaction.

    On PostgreSQL the same statement announces them (:func:`.wakeup.announcement`, evaluated
    per row, sent once, on commit only), so waking other processes costs no round trip.
    """
    if not rows:
        return
    insert = _INSERTS[connection.dialect.name == "postgresql"]
    try:
        connection.execute(insert, list(rows))
    except SQLAlchemyError as exc:
        raise StorageError(f"could not enqueue {len(rows)} outbox row(s): {describe(exc)}") from exc


@contextmanager
def _one_statement(engine: Engine | Connection) -> Iterator[Connection]:
    """A connection for one self-contained statement: autocommit on PostgreSQL, a transaction
    committed on exit elsewhere; a connection handed in is used as it is (its owner chose)."""
    if isinstance(engine, Connection):
        yield engine
    elif is_postgres(engine):
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with engine.begin() as conn:
            yield conn


def enqueue_transaction(engine: Engine, rows: int) -> AbstractContextManager[Connection]:
    """The publisher's own transaction for ``rows`` outbox rows.

    One row on PostgreSQL is one ``INSERT``, atomic and durable on its own: it runs in
    autocommit, saving the ``BEGIN`` and ``COMMIT`` round trips on the way from publish to
    delivery. Anything larger (several statements, maybe) gets a real transaction.
    """
    return _one_statement(engine) if rows == 1 else engine.begin()


def claim_due(
    engine: Engine | Connection,
    worker_id: str,
    destinations: Iterable[str],
    *,
    now: datetime,
    lease_s: float,
    limit: int,
    skip_tripped: int | None = None,
) -> list[RowMapping]:
    """Lease up to ``limit`` due pending rows of ``destinations``, oldest due first; each row
    holds :data:`._claim_sql.CLAIMED_COLUMNS`.

    With ``skip_tripped`` (the circuit's failure threshold), rows of destinations that are
    disabled or have that many consecutive failures (an open or half-open circuit) are left
    alone, judged in the claiming statement itself. ``engine`` may be a connection of the
    caller's (in autocommit on PostgreSQL).
    """
    names = sorted(set(destinations))
    if not names or limit <= 0:
        return []
    claim = claim_statement(engine.dialect.name == "postgresql", skip_tripped is not None)
    params = {
        "now": now,
        "names": names,
        "limit": limit,
        "worker_id": worker_id,
        "until": now + timedelta(seconds=lease_s),
        "threshold": skip_tripped,
    }
    try:
        with _one_statement(engine) as conn:
            rows = list(conn.execute(claim, params).mappings())
    except SQLAlchemyError as exc:
        raise StorageError(f"could not claim outbox rows: {describe(exc)}") from exc
    return sorted(rows, key=lambda r: (as_utc(r["next_attempt_at"]), r["id"]))


def extend_lease(engine: Engine, worker_id: str, outbox_ids: Sequence[str], until: datetime) -> int:
    """Push the lease of rows still in flight to ``until`` (a heartbeat); returns rows kept."""
    if not outbox_ids:
        return 0
    stmt = (
        sa.update(outbox)
        .where(
            outbox.c.id.in_(list(outbox_ids)),
            outbox.c.claimed_by == worker_id,
            outbox.c.status == OutboxStatus.PENDING,
        )
        .values(claimed_until=until)
    )
    return _run(engine, stmt, "extend outbox leases")


def record_attempts(
    engine: Engine,
    writes: Sequence[AttemptWrite],
    *,
    worker_id: str,
    threshold: int,
    open_s: float,
) -> None:
    """Record attempts, update their rows and destinations' circuits, in one transaction.

    ``writes`` are in completion order. On PostgreSQL the whole group is one statement (one
    round trip whatever its size); elsewhere rows are updated with two executemany statements
    and each destination's circuit with one statement.
    """
    if not writes:
        return
    try:
        if is_postgres(engine):
            with _one_statement(engine) as conn:
                record_in_one_statement(
                    conn,
                    [_attempt_values(w) for w in writes],
                    [_row_values(w) for w in writes],
                    [_circuit_values(d, run, open_s) for d, run in _circuit_runs(writes).items()],
                    worker_id=worker_id,
                    threshold=threshold,
                )
        else:
            _record_portably(engine, writes, worker_id, threshold, open_s)
    except SQLAlchemyError as exc:
        ids = ", ".join(w.outbox_id for w in writes[:3])
        raise StorageError(
            f"could not record {len(writes)} attempt(s) ({ids}...): {describe(exc)}"
        ) from exc


def _record_portably(
    engine: Engine, writes: Sequence[AttemptWrite], worker_id: str, threshold: int, open_s: float
) -> None:
    delivered = [
        _row_params(w, worker_id) for w in writes if w.row_status == OutboxStatus.DELIVERED
    ]
    other = [_row_params(w, worker_id) for w in writes if w.row_status != OutboxStatus.DELIVERED]
    with engine.begin() as conn:
        conn.execute(delivery_attempts.insert(), [_attempt_values(w) for w in writes])
        if delivered:
            conn.execute(_DELIVERED_UPDATE, delivered)
        if other:
            conn.execute(_OTHER_UPDATE, other)
        for destination, run in _circuit_runs(writes).items():
            conn.execute(_circuit_update(destination, run, threshold, open_s))


def _row_values(write: AttemptWrite) -> dict[str, Any]:
    delivered = write.row_status == OutboxStatus.DELIVERED
    return {
        "id": write.outbox_id,
        "status": write.row_status,
        "attempts": write.attempt,
        "last_error": write.error,
        "next_attempt_at": None if delivered else write.next_attempt_at,
        "delivered_at": _finished(write) if delivered else None,
    }


def _circuit_values(destination: str, run: _CircuitRun, open_s: float) -> dict[str, Any]:
    return {
        "destination": destination,
        "reset": run.reset,
        "failures": run.failures,
        "finished": run.finished,
        "open_until": run.finished + timedelta(seconds=open_s),
    }


def _attempt_values(write: AttemptWrite) -> dict[str, Any]:
    return {
        "outbox_id": write.outbox_id,
        "notification_id": write.notification_id,
        "destination": write.destination,
        "correlation_id": write.correlation_id,
        "attempt": write.attempt,
        "status": write.status,
        "http_status": write.http_status,
        "latency_ms": write.latency_ms,
        "error": write.error,
        "timestamp": write.started_at,
    }


def _finished(write: AttemptWrite) -> datetime:
    return write.started_at + timedelta(milliseconds=write.latency_ms)


# A delivery always lands; other outcomes only while this worker still holds the lease.
_DELIVERED_UPDATE = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("b_id"), outbox.c.status == OutboxStatus.PENDING)
    .values(
        status=OutboxStatus.DELIVERED,
        attempts=sa.bindparam("b_attempt"),
        claimed_by=None,
        claimed_until=None,
        last_error=sa.bindparam("b_error"),
        delivered_at=sa.bindparam("b_finished", type_=_TS),
    )
)
_OTHER_UPDATE = (
    sa.update(outbox)
    .where(
        outbox.c.id == sa.bindparam("b_id"),
        outbox.c.status == OutboxStatus.PENDING,
        outbox.c.claimed_by == sa.bindparam("b_worker"),
    )
    .values(
        status=sa.bindparam("b_status"),
        attempts=sa.bindparam("b_attempt"),
        claimed_by=None,
        claimed_until=None,
        last_error=sa.bindparam("b_error"),
        next_attempt_at=sa.func.coalesce(
            sa.bindparam("b_next", type_=_TS), outbox.c.next_attempt_at
        ),
    )
)


def _row_params(write: AttemptWrite, worker_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "b_id": write.outbox_id,
        "b_attempt": write.attempt,
        "b_error": write.error,
    }
    if write.row_status == OutboxStatus.DELIVERED:
        params["b_finished"] = _finished(write)
    else:
        params.update(b_worker=worker_id, b_status=write.row_status, b_next=write.next_attempt_at)
    return params


@dataclass(frozen=True)
class _CircuitRun:
    """A destination's outcomes in one group: whether any succeeded, failures after that."""

    reset: bool
    failures: int
    finished: datetime


def _circuit_runs(writes: Sequence[AttemptWrite]) -> dict[str, _CircuitRun]:
    runs: dict[str, _CircuitRun] = {}
    for write in writes:
        if write.circuit_failure is None:
            continue
        previous = runs.get(write.destination, _CircuitRun(False, 0, _finished(write)))
        if write.circuit_failure:
            runs[write.destination] = _CircuitRun(
                previous.reset, previous.failures + 1, _finished(write)
            )
        else:
            runs[write.destination] = _CircuitRun(True, 0, _finished(write))
    return runs


def _circuit_update(destination: str, run: _CircuitRun, threshold: int, open_s: float) -> sa.Update:
    """Success resets the count; failures add to it (after a reset, start from zero)."""
    row = destination_state.c
    base = sa.literal(0) if run.reset else row.consecutive_failures
    count = base + run.failures
    open_until = sa.literal(run.finished + timedelta(seconds=open_s), _TS)
    keep = sa.null() if run.reset else row.circuit_open_until
    return (
        sa.update(destination_state)
        .where(row.destination == destination)
        .values(
            consecutive_failures=count,
            circuit_open_until=sa.case((count >= threshold, open_until), else_=keep),
            updated_at=run.finished,
        )
    )


def claim_probe(engine: Engine, name: str, *, threshold: int, now: datetime, hold_s: float) -> bool:
    """Take the one probe of ``name``'s elapsed open circuit; False if another worker took it.

    A compare-and-set on ``destination_state``: the winner moves ``circuit_open_until`` on by
    ``hold_s``, so every other dispatcher (in any process) sees the circuit open again until
    the probe's outcome closes or re-opens it. If the winner dies, the hold lapses and the next
    pass probes again.
    """
    row = destination_state.c
    stmt = (
        sa.update(destination_state)
        .where(
            row.destination == name,
            row.disabled.is_(False),
            row.consecutive_failures >= threshold,
            row.circuit_open_until.is_not(None),
            row.circuit_open_until <= sa.literal(now, _TS),
        )
        .values(circuit_open_until=sa.literal(now + timedelta(seconds=hold_s), _TS))
    )
    return _run(engine, stmt, f"claim the circuit probe of {name!r}") == 1


def return_probe(engine: Engine, name: str, now: datetime) -> None:
    """Give an unused probe back (nothing was due): the circuit is half-open again at ``now``."""
    row = destination_state.c
    stmt = (
        sa.update(destination_state)
        .where(row.destination == name, row.circuit_open_until > sa.literal(now, _TS))
        .values(circuit_open_until=sa.literal(now, _TS))
    )
    _run(engine, stmt, f"return the circuit probe of {name!r}")


def ensure_destination_states(engine: Engine, names: Iterable[str], now: datetime) -> None:
    """Create a closed, enabled ``destination_state`` row for each name that has none."""
    wanted = set(names)
    if not wanted:
        return
    try:
        with engine.begin() as conn:
            existing = set(
                conn.execute(
                    sa.select(destination_state.c.destination).where(
                        destination_state.c.destination.in_(sorted(wanted))
                    )
                ).scalars()
            )
            for name in sorted(wanted - existing):
                conn.execute(_insert_state_if_missing(engine, name, now))
    except SQLAlchemyError as exc:
        raise StorageError(f"could not initialise destination state: {describe(exc)}") from exc


def _insert_state_if_missing(engine: Engine, name: str, now: datetime) -> sa.Insert:
    values = {
        "destination": name,
        "disabled": False,
        "disabled_reason": None,
        "consecutive_failures": 0,
        "circuit_open_until": None,
        "updated_at": now,
    }
    if is_postgres(engine):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(destination_state).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(destination_state).values(**values).on_conflict_do_nothing()


def load_destination_states(engine: Engine) -> dict[str, DestinationCircuit]:
    try:
        with _one_statement(engine) as conn:
            rows = conn.execute(sa.select(destination_state)).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(f"could not read destination state: {describe(exc)}") from exc
    return {
        r["destination"]: DestinationCircuit(
            destination=r["destination"],
            disabled=bool(r["disabled"]),
            consecutive_failures=int(r["consecutive_failures"]),
            circuit_open_until=(
                as_utc(r["circuit_open_until"]) if r["circuit_open_until"] is not None else None
            ),
        )
        for r in rows
    }


def disable_destination(engine: Engine, name: str, reason: str, now: datetime) -> None:
    """Mark ``name`` disabled (a 410): its pending rows stop being attempted."""
    stmt = (
        sa.update(destination_state)
        .where(destination_state.c.destination == name)
        .values(disabled=True, disabled_reason=reason, updated_at=now)
    )
    _run(engine, stmt, f"disable destination {name!r}")


def mark_disabled_rows(engine: Engine, names: Iterable[str], reason: str) -> int:
    """Settle pending rows of disabled destinations as ``disabled``; returns how many."""
    wanted = sorted(set(names))
    if not wanted:
        return 0
    stmt = (
        sa.update(outbox)
        .where(outbox.c.status == OutboxStatus.PENDING, outbox.c.destination.in_(wanted))
        .values(
            status=OutboxStatus.DISABLED, last_error=reason, claimed_by=None, claimed_until=None
        )
    )
    return _run(engine, stmt, "settle rows of disabled destinations")


def _run(engine: Engine, stmt: sa.Update, what: str) -> int:
    try:
        with _one_statement(engine) as conn:
            return int(conn.execute(stmt).rowcount)
    except SQLAlchemyError as exc:
        raise StorageError(f"could not {what}: {describe(exc)}") from exc


def count_pending(engine: Engine, destinations: Iterable[str]) -> int:
    """Pending rows of ``destinations`` (due or waiting for a retry)."""
    names = sorted(set(destinations))
    if not names:
        return 0
    query = (
        sa.select(sa.func.count())
        .select_from(outbox)
        .where(outbox.c.status == OutboxStatus.PENDING, outbox.c.destination.in_(names))
    )
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    except SQLAlchemyError as exc:
        raise StorageError(f"could not count pending outbox rows: {describe(exc)}") from exc


def enable_destination(engine: Engine, name: str, now: datetime) -> int:
    """Re-enable a destination a 410 disabled and close its circuit; returns rows changed."""
    stmt = (
        sa.update(destination_state)
        .where(destination_state.c.destination == name)
        .values(
            disabled=False,
            disabled_reason=None,
            consecutive_failures=0,
            circuit_open_until=None,
            updated_at=now,
        )
    )
    return _run(engine, stmt, f"enable destination {name!r}")
