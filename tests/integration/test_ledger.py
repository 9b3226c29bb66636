"""The hash-chained ledger on SQLite and PostgreSQL: tampering, replay, compare-and-set."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg_pool import AsyncConnectionPool

from agent_platform.canonical import sha256_hex
from agent_platform.db import create_engine_for
from agent_platform.errors import (
    InvalidInputError,
    LedgerConflictError,
    LedgerGapError,
    LedgerIntegrityError,
    PayloadError,
)
from agent_platform.orchestration.checkpointing import libpq_url
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.consumers import StateProjection
from agent_platform.state.ledger.chain import GENESIS_HASH, entry_hash
from agent_platform.state.ledger.retry import LedgerContentionError
from agent_platform.state.ledger_replay import (
    AppendRetry,
    Ledger,
    LedgerEntry,
    replay_events,
    verify_ledger_integrity,
)
from agent_platform.state.repository import StateRepository
from agent_platform.state.tables import ledger_entries, ledger_heads

E = ledger_entries.c


@pytest.fixture
def ledger(engine: sa.Engine) -> Ledger:
    led = Ledger(engine, "audit")
    led.append_event("graph.start", {"task": "t-1"})
    led.append_many([("graph.step", {"n": n, "node": "coder"}) for n in range(9)])
    return led


def _edit(engine: sa.Engine, name: str, seq: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(ledger_entries).where(E.ledger == name, E.seq == seq).values(**values)
        )


def _row(engine: sa.Engine, name: str, seq: int) -> sa.Row:
    with engine.connect() as conn:
        query = sa.select(ledger_entries).where(E.ledger == name, E.seq == seq)
        return conn.execute(query).one()


def _delete(engine: sa.Engine, name: str, condition: sa.ColumnElement[bool]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger_entries).where(E.ledger == name, condition))


def _edit_payload(engine: sa.Engine, name: str) -> None:
    _edit(engine, name, 4, payload='{"n":2,"node":"attacker"}')


def _edit_checksum(engine: sa.Engine, name: str) -> None:
    _edit(engine, name, 6, checksum="f" * 64)


def _edit_payload_and_checksum(engine: sa.Engine, name: str) -> None:
    body = '{"n":3,"node":"attacker"}'
    _edit(engine, name, 5, payload=body, checksum=sha256_hex(body.encode()))


def _delete_entry(engine: sa.Engine, name: str) -> None:
    _delete(engine, name, E.seq == 3)


def _reorder_pair(engine: sa.Engine, name: str) -> None:
    a, b = _row(engine, name, 7), _row(engine, name, 8)
    fields = ("event_type", "payload", "checksum", "prev_hash", "entry_hash")
    _edit(engine, name, 7, **{f: getattr(b, f) for f in fields})
    _edit(engine, name, 8, **{f: getattr(a, f) for f in fields})


def _truncate_tail(engine: sa.Engine, name: str) -> None:
    _delete(engine, name, E.seq >= 9)


def _fork_from_grandparent(engine: sa.Engine, name: str) -> None:
    grand, row = _row(engine, name, 4), _row(engine, name, 6)  # seq 6 branches from seq 4
    forged = entry_hash(6, row.event_type, row.checksum, grand.entry_hash)
    _edit(engine, name, 6, prev_hash=grand.entry_hash, entry_hash=forged)


def _rewrite_head(engine: sa.Engine, name: str) -> None:
    row, body = _row(engine, name, 10), '{"forged":true}'
    checksum = sha256_hex(body.encode())
    forged = entry_hash(10, row.event_type, checksum, row.prev_hash)
    _edit(engine, name, 10, payload=body, checksum=checksum, entry_hash=forged)


def _append_behind_the_ledger(engine: sa.Engine, name: str) -> None:
    last, checksum = _row(engine, name, 10), sha256_hex(b"{}")
    values = {
        "ledger": name,
        "seq": 11,
        "event_type": "x",
        "payload": "{}",
        "checksum": checksum,
        "prev_hash": last.entry_hash,
        "entry_hash": entry_hash(11, "x", checksum, last.entry_hash),
        "created_at": last.created_at,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(ledger_entries).values(**values))


TAMPERING: list[tuple[str, Callable[[sa.Engine, str], None], int, str]] = [
    ("edited-payload", _edit_payload, 4, "payload edited"),
    ("edited-checksum", _edit_checksum, 6, "checksum edited"),
    ("edited-both", _edit_payload_and_checksum, 5, "entry_hash does not match"),
    ("deleted", _delete_entry, 3, "missing"),
    ("reordered", _reorder_pair, 7, "reordered"),
    ("truncated", _truncate_tail, 9, "truncated"),
    ("fork", _fork_from_grandparent, 6, "fork"),
    ("rewritten-head", _rewrite_head, 10, "fork"),
    ("beyond-head", _append_behind_the_ledger, 11, "beyond the recorded head"),
]


def _fill(engine: sa.Engine, name: str) -> Ledger:
    led = Ledger(engine, name)
    led.append_event("graph.start", {"task": "t-1"})
    led.append_many([("graph.step", {"n": n, "node": "coder"}) for n in range(9)])
    return led


def test_intact_chain_verifies(engine: sa.Engine, ledger: Ledger) -> None:
    result = ledger.verify()
    assert result.ok and result.entries_checked == 10 and result.recorded_head_seq == 10
    first = next(ledger.entries())
    assert first.prev_hash == GENESIS_HASH
    assert first.entry_hash == entry_hash(1, "graph.start", first.checksum, GENESIS_HASH)
    assert first.checksum == sha256_hex(b'{"task":"t-1"}')
    assert [e.seq for e in ledger.entries(start=7, page_size=2)] == [8, 9, 10]


def test_each_tampering_detected_with_its_seq(engine: sa.Engine) -> None:
    for name, tamper, seq, words in TAMPERING:
        _fill(engine, name)
        assert verify_ledger_integrity(engine, name).ok
        tamper(engine, name)
        result = verify_ledger_integrity(engine, name)
        assert not result.ok, name
        assert result.first_bad_seq == seq, (name, result)
        assert words in (result.reason or ""), (name, result.reason)
        with pytest.raises(LedgerIntegrityError) as info:
            result.raise_for_failure()
        assert info.value.seq == seq


def test_cas_conflict_two_writers_same_expected_seq(engine: sa.Engine, ledger: Ledger) -> None:
    one, two = Ledger(engine, "audit"), Ledger(engine, "audit")
    assert one.head()[0] == 10
    one.append_event("w", {"who": 1}, expected_seq=11)
    with pytest.raises(LedgerConflictError) as info:
        two.append_event("w", {"who": 2}, expected_seq=11)
    assert info.value.expected_seq == 11 and info.value.actual_head == 11
    assert two.append_event("w", {"who": 2}, expected_seq=12).seq == 12  # retry succeeds
    assert ledger.verify().ok


def test_concurrent_appends_never_fork(engine: sa.Engine, ledger: Ledger) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        mine = Ledger(engine, "audit")
        for n in range(15):
            try:
                mine.append_event("w", {"worker": worker, "n": n})
            except LedgerConflictError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    result = ledger.verify()
    assert result.ok and errors == []
    assert result.entries_checked == 10 + 45


def test_replay_idempotent_across_restart(db_url: str) -> None:
    first = create_engine_for(db_url)
    Ledger(first, "r").append_many([("e", {"n": n}) for n in range(10)])
    seen: list[int] = []
    report = Ledger(first, "r").replay_events("c1", lambda e: seen.append(e.seq), page_size=4)
    assert (report.start_seq, report.last_seq, report.applied) == (0, 10, 10)
    first.dispose()
    second = create_engine_for(db_url)  # a new process, in effect
    Ledger(second, "r").append_many([("e", {"n": n}) for n in range(10, 15)])
    report = replay_events(second, "c1", lambda e: seen.append(e.seq), ledger="r")
    assert (report.start_seq, report.applied) == (10, 5)
    assert replay_events(second, "c1", lambda e: seen.append(e.seq), ledger="r").applied == 0
    assert seen == list(range(1, 16))
    assert Ledger(second, "r").position("other") == 0
    second.dispose()


def test_replay_keeps_position_when_handler_fails(engine: sa.Engine, ledger: Ledger) -> None:
    def handler(entry: LedgerEntry) -> None:
        if entry.seq == 4:
            raise RuntimeError("handler broke")

    with pytest.raises(RuntimeError):
        ledger.replay_events("flaky", handler)
    assert ledger.position("flaky") == 3
    applied: list[int] = []
    ledger.replay_events("flaky", lambda e: applied.append(e.seq))
    assert applied == list(range(4, 11))


def test_replay_stops_on_gap(engine: sa.Engine, ledger: Ledger) -> None:
    _delete(engine, "audit", E.seq == 5)
    applied: list[int] = []
    with pytest.raises(LedgerGapError) as info:
        ledger.replay_events("gap", lambda e: applied.append(e.seq))
    assert info.value.missing_seq == 5
    assert applied == [1, 2, 3, 4]
    assert ledger.position("gap") == 4


def test_replay_refuses_tampered_payload(engine: sa.Engine, ledger: Ledger) -> None:
    _edit(engine, "audit", 2, payload='{"n":0,"node":"evil"}')
    with pytest.raises(LedgerIntegrityError) as info:
        ledger.replay_events("strict", lambda e: None)
    assert info.value.seq == 2
    assert ledger.position("strict") == 1


def test_state_projection_rebuilds_state(engine: sa.Engine) -> None:
    led = Ledger(engine, "state")
    led.append_many(
        [
            ("state.saved", {"session_id": "a", "payload": {"v": 1}}),
            ("state.saved", {"session_id": "b", "payload": {"v": 2}}),
            ("graph.step", {"n": 1}),
            ("state.deleted", {"session_id": "b"}),
            ("state.saved", {"session_id": "a", "payload": {"v": 3}}),
        ]
    )
    repo = StateRepository(engine, MemoryTTLCache())
    projection = StateProjection(repo)
    led.replay_events("projection", projection)
    assert repo.get("a") == {"v": 3} and repo.get("b") is None
    assert projection.summary() == {"saved": 3, "deleted": 1, "ignored": 1}


def test_bad_input(engine: sa.Engine, ledger: Ledger) -> None:
    small = Ledger(engine, "audit", max_payload_bytes=10)
    with pytest.raises(PayloadError):
        small.append_event("x", {"a": "b" * 20})
    with pytest.raises(PayloadError):
        ledger.append_event("x", {1, 2})
    with pytest.raises(InvalidInputError):
        ledger.append_event("", {})
    with pytest.raises(InvalidInputError):
        ledger.append_event("x" * 129, {})
    with pytest.raises(InvalidInputError):
        ledger.append_event("x", {}, expected_seq=0)
    with pytest.raises(InvalidInputError):
        Ledger(engine, "")
    with pytest.raises(PayloadError):
        ledger.append_many([("ok", {}), ("bad", float("inf"))])
    assert ledger.head()[0] == 10
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger_heads)).scalar_one() == 1
    assert ledger.verify().ok


def _cas_writer(url: str, worker: int, count: int) -> None:
    """Append ``count`` events with explicit compare-and-set, retrying lost races (bounded)."""
    engine = create_engine_for(url)
    ledger = Ledger(engine, "audit")
    done = conflicts = 0
    while done < count and conflicts < 50 * count:
        try:
            expected = ledger.head()[0] + 1
            ledger.append_event("w", {"worker": worker, "n": done}, expected_seq=expected)
            done += 1
        except LedgerConflictError:
            conflicts += 1
    engine.dispose()
    os._exit(0 if done == count else 1)


def test_cas_writers_in_several_processes_never_fork(db_url: str) -> None:
    engine = create_engine_for(db_url)
    _fill(engine, "audit")
    workers, count = 3, 15
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_cas_writer, args=(db_url, w, count)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    result = verify_ledger_integrity(engine, "audit")
    assert result.ok and result.entries_checked == 10 + workers * count
    written = [e.data() for e in Ledger(engine, "audit").entries(start=10)]
    assert sorted((d["worker"], d["n"]) for d in written) == [
        (w, n) for w in range(workers) for n in range(count)
    ]
    engine.dispose()


def _free_writer(url: str, worker: int, count: int, deadline_s: float) -> None:
    """Append ``count`` events without expected_seq; exit 1 on a give-up."""
    engine = create_engine_for(url)
    ledger = Ledger(engine, "contended", retry=AppendRetry(deadline_s=deadline_s))
    try:
        for n in range(count):
            ledger.append_event("w", {"worker": worker, "n": n})
    except LedgerContentionError:
        os._exit(1)
    engine.dispose()
    os._exit(0)


def test_four_processes_appending_at_the_head_never_give_up(pg_url: str) -> None:
    """Without expected_seq, lost races are retried until a deadline with backoff: four
    processes appending at once all get every entry in (a fixed 8 retries lost ~1 %)."""
    workers, count = 4, 150
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_free_writer, args=(pg_url, w, count, 120.0)) for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    assert [proc.exitcode for proc in procs] == [0] * workers  # no give-up in any process
    engine = create_engine_for(pg_url)
    result = verify_ledger_integrity(engine, "contended")
    assert result.ok and result.entries_checked == workers * count
    written = sorted(
        (e.data()["worker"], e.data()["n"]) for e in Ledger(engine, "contended").entries()
    )
    assert written == [(w, n) for w in range(workers) for n in range(count)]
    engine.dispose()


def test_giving_up_says_how_long_and_how_often(db_url: str) -> None:
    """A rival appends before every statement of ours: we lose every race until the deadline."""
    victim_engine, rival_engine = create_engine_for(db_url), create_engine_for(db_url)
    rival = Ledger(rival_engine, "raced")
    rival.append_event("first", {})

    def rival_first(conn: sa.Connection, cursor: Any, statement: str, *_: Any) -> None:
        if "INSERT INTO ledger_entries" in statement:
            rival.append_event("rival", {})

    victim = Ledger(victim_engine, "raced", retry=AppendRetry(deadline_s=0.3))
    sa.event.listen(victim_engine, "before_cursor_execute", rival_first)
    try:
        with pytest.raises(LedgerContentionError) as info:
            victim.append_event("mine", {})
    finally:
        sa.event.remove(victim_engine, "before_cursor_execute", rival_first)
    error = info.value
    assert isinstance(error, LedgerConflictError)
    assert error.attempts >= 2 and error.elapsed_s >= 0.3
    assert f"after {error.attempts} attempts in" in str(error) and "raced" in str(error)
    assert victim.append_event("mine", {}).event_type == "mine"  # the rival has stopped
    assert verify_ledger_integrity(victim_engine, "raced").ok
    with pytest.raises(InvalidInputError):
        AppendRetry(deadline_s=0)
    victim_engine.dispose()
    rival_engine.dispose()


def _crashing_replay(url: str, log: str) -> None:
    """Replay with pages of 3 and die (no clean-up at all) while handling seq 8."""
    engine = create_engine_for(url)

    def handler(entry: LedgerEntry) -> None:
        if entry.seq == 8:
            os._exit(3)
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{entry.seq}\n")

    Ledger(engine, "r").replay_events("crashy", handler, page_size=3)
    os._exit(0)


def test_replay_resumes_after_a_crash_at_the_last_full_page(db_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(db_url)
    ledger = Ledger(engine, "r")
    ledger.append_many([("e", {"n": n}) for n in range(12)])
    log = tmp_path / "applied.txt"
    proc = multiprocessing.get_context("fork").Process(
        target=_crashing_replay, args=(db_url, str(log))
    )
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 3
    assert ledger.position("crashy") == 6  # pages 1-3 and 4-6 were recorded
    applied = [int(line) for line in log.read_text(encoding="utf-8").split()]
    assert applied == [1, 2, 3, 4, 5, 6, 7]
    again: list[int] = []
    report = ledger.replay_events("crashy", lambda e: again.append(e.seq), page_size=3)
    assert again == list(range(7, 13))  # seq 7 handed over again: at most one page
    assert (report.start_seq, report.last_seq) == (6, 12)
    engine.dispose()


def test_appends_during_replay_are_not_a_gap(engine: sa.Engine, ledger: Ledger) -> None:
    writer = Ledger(engine, "audit")

    def handler(entry: LedgerEntry) -> None:
        if entry.seq == 10:  # the last entry when the replay started
            writer.append_event("late", {"after": entry.seq})

    report = ledger.replay_events("live", handler, page_size=100)
    assert report.last_seq == 10
    late: list[int] = []
    assert ledger.replay_events("live", lambda e: late.append(e.seq)).applied == 1
    assert late == [11]
    with pytest.raises(InvalidInputError):
        ledger.replay_events("live", handler, page_size=0)


def test_a_stale_remembered_head_loses_the_compare_and_set(
    engine: sa.Engine, ledger: Ledger
) -> None:
    """The single-statement append (autocommit on PostgreSQL) still refuses a moved head."""
    one, two = Ledger(engine, "audit"), Ledger(engine, "audit")
    one.append_event("w", {"who": 1}, expected_seq=11)  # one remembers head 11
    two.append_event("w", {"who": 2}, expected_seq=12)
    with pytest.raises(LedgerConflictError) as info:
        one.append_event("w", {"who": 1}, expected_seq=12)  # chained onto its stale head
    assert info.value.actual_head == 12
    assert ledger.head()[0] == 12 and ledger.verify().ok
    assert one.append_event("w", {"who": 1}).seq == 13  # without expected_seq: retried
    fresh = Ledger(engine, "audit")  # remembers nothing, expects the first entry
    with pytest.raises(LedgerConflictError):
        fresh.append_event("w", {"who": 3}, expected_seq=1)
    assert ledger.head()[0] == 13 and ledger.verify().ok


def _caller_table(engine: sa.Engine) -> sa.Table:
    table = sa.Table("caller_rows", sa.MetaData(), sa.Column("id", sa.String(32), primary_key=True))
    table.create(engine)
    return table


def test_appends_commit_and_roll_back_with_the_callers_transaction(
    engine: sa.Engine, ledger: Ledger
) -> None:
    rows = _caller_table(engine)
    head = ledger.head()
    with pytest.raises(RuntimeError, match="caller failed"), ledger.transaction() as conn:
        ledger.append_event("with.row", {"n": 1}, connection=conn)
        conn.execute(rows.insert().values(id="rolled-back"))
        raise RuntimeError("caller failed after appending")
    assert ledger.head() == head and len(list(ledger.entries())) == 10
    assert ledger.append_event("alone", {"n": 2}).seq == 11  # no stale head remembered
    with ledger.transaction() as conn:
        added = ledger.append_many(
            [("with.row", {"n": 3}), ("with.row", {"n": 4})], connection=conn
        )
        conn.execute(rows.insert().values(id="kept"))
        assert ledger.head()[0] == 11  # not visible to others before the caller commits
    assert [e.seq for e in added] == [12, 13] and ledger.head()[0] == 13
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(rows.c.id)).scalars()) == ["kept"]
    assert ledger.verify().ok


def test_a_lost_append_rolls_back_the_callers_rows(engine: sa.Engine, ledger: Ledger) -> None:
    rows = _caller_table(engine)
    with pytest.raises(LedgerConflictError), ledger.transaction() as conn:
        conn.execute(rows.insert().values(id="written-first"))
        ledger.append_event("late", {"n": 1}, expected_seq=5, connection=conn)
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(rows.c.id)).scalars()) == []
    assert ledger.head()[0] == 10 and ledger.verify().ok


class _FailAfterExecute:
    """A connection whose first statement runs and then reports a lost connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, query: str, params: dict[str, Any]) -> Any:
        await self._conn.execute(query, params)
        raise psycopg.OperationalError("connection lost after the statement was sent")


@pytest.fixture
async def pg_pool(pg_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        libpq_url(pg_url), min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
    )
    await pool.open(wait=True)
    yield pool
    await pool.close()


async def test_async_appends_chain_check_and_set_and_survive_a_lost_connection(
    pg_url: str, pg_pool: AsyncConnectionPool[Any]
) -> None:
    """The event-loop append (one statement, several entries) keeps every ledger guarantee."""
    engine = create_engine_for(pg_url)
    try:
        ledger, other = Ledger(engine, "async"), Ledger(engine, "async")
        first = [("run_started", {"n": 0}), ("node", {"n": 1}), ("node", {"n": 2})]
        added = await ledger.append_many_async(first, expected_seq=1, connect=pg_pool.connection)
        assert [e.seq for e in added] == [1, 2, 3] and ledger.head() == (3, added[-1].entry_hash)
        assert ledger.append_event("sync", {"n": 3}, expected_seq=4).seq == 4  # head shared
        other.append_event("other", {"n": 4}, expected_seq=5)
        with pytest.raises(LedgerConflictError):  # ledger remembers head 4: stale
            await ledger.append_many_async(
                [("node", {"n": 5})], expected_seq=5, connect=pg_pool.connection
            )
        assert ledger.head()[0] == 5

        @asynccontextmanager
        async def flaky() -> AsyncIterator[Any]:
            calls.append(1)
            async with pg_pool.connection() as conn:
                yield _FailAfterExecute(conn) if len(calls) == 1 else conn

        calls: list[int] = []
        ledger.append_event("sync", {"n": 6}, expected_seq=6)
        retried = await ledger.append_many_async(
            [("node", {"n": 7}), ("node", {"n": 8})], expected_seq=7, connect=flaky
        )
        assert [e.seq for e in retried] == [7, 8] and ledger.head()[0] == 8 and len(calls) == 3
        with pytest.raises(InvalidInputError):
            await ledger.append_many_async(
                [("node", {"n": n}) for n in range(9)], expected_seq=9, connect=pg_pool.connection
            )
        assert ledger.verify().ok and len(list(ledger.entries())) == 8
    finally:
        engine.dispose()
