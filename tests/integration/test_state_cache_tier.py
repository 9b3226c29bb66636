"""StateRepository's cache tier: a refill racing a writer, Redis slow or gone, and Redis back
with old data after another process wrote during the outage.

The shared Redis is never paused or stopped: ``CLIENT PAUSE`` and kills go to a private
redis-server of the test's own. The circuit breaker gets a hand-driven clock, so when it lets a
probe through is decided by the test, not by how fast the machine is.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import threading
from collections.abc import Callable

import redis
import sqlalchemy as sa

from agent_platform.canonical import content_hash
from agent_platform.db import create_engine_for
from agent_platform.state._breaker import CircuitBreaker
from agent_platform.state._pending import PendingInvalidations
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache
from agent_platform.state.repository import StateRepository
from agent_platform.state.tables import cache_invalidations, sessions
from tests.support.databases import REDIS_TEST_URL
from tests.support.servers import PrivateRedis


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refill_never_overwrites_a_newer_write(db_url: str, cache: Cache) -> None:
    """A reader misses and reads v1 from SQL; a writer commits v2 and caches it before the
    reader refills the cache: the reader's refill must not put v1 back over v2."""
    reader_engine, writer_engine = create_engine_for(db_url), create_engine_for(db_url)
    reader = StateRepository(reader_engine, cache)
    writer = StateRepository(writer_engine, cache)
    StateRepository(writer_engine, MemoryTTLCache()).save("k", {"v": 1})  # cold shared cache
    fired: list[bool] = []

    def write_meanwhile(conn: sa.Connection, cursor: object, statement: str, *_: object) -> None:
        if not fired and "FROM sessions" in statement:  # right after the reader's SQL read
            fired.append(True)
            writer.save("k", {"v": 2})

    sa.event.listen(reader_engine, "after_cursor_execute", write_meanwhile)
    try:
        assert reader.get("k") == {"v": 1}  # what SQL held when the reader read it
    finally:
        sa.event.remove(reader_engine, "after_cursor_execute", write_meanwhile)
    assert fired
    assert cache.get("state:k") == content_hash({"v": 2}).encode() + b'{"v":2}'
    assert reader.get("k") == {"v": 2}
    reader_engine.dispose()
    writer_engine.dispose()


def _repo(engine: sa.Engine, server: PrivateRedis, clock: _Clock) -> StateRepository:
    breaker = CircuitBreaker(threshold=1, cooldown_s=5.0, clock=clock)
    cache = RedisCache(server.url, socket_timeout_s=0.2, breaker=breaker)
    return StateRepository(engine, cache)


def test_redis_timing_out_falls_back_then_warms_again(
    engine: sa.Engine, private_redis: PrivateRedis
) -> None:
    clock = _Clock()
    repo = _repo(engine, private_redis, clock)
    ids = [f"s{n}" for n in range(8)]
    repo.save_many({sid: {"v": 1} for sid in ids})
    assert repo.get_many(ids) == {sid: {"v": 1} for sid in ids}
    admin = redis.Redis.from_url(private_redis.url)
    try:
        # The server stops answering every client for 2 s: the next call times out.
        admin.execute_command("CLIENT", "PAUSE", 2000, "ALL")
        for sid in ids:
            repo.save(sid, {"v": 2})
            assert repo.get(sid) == {"v": 2}
        during = repo.stats()
        assert during.fallbacks == len(ids)
        assert during.cache_errors >= 2 * len(ids)
        assert during.pending_invalidations == len(ids)
        admin.ping()  # blocks until the pause is over
    finally:
        admin.close()
    clock.now += 10  # past the breaker's cool-down: the next call is a probe
    assert repo.get_many(ids) == {sid: {"v": 2} for sid in ids}
    assert repo.stats().pending_invalidations == 0
    hits = repo.stats().hits
    assert repo.get_many(ids) == {sid: {"v": 2} for sid in ids}
    assert repo.stats().hits - hits == len(ids)  # served from the warmed cache
    assert repo.verify_integrity().ok
    repo.cache.close()


def test_batches_and_verification_while_redis_is_down(
    engine: sa.Engine, private_redis: PrivateRedis
) -> None:
    clock = _Clock()
    repo = _repo(engine, private_redis, clock)
    repo.save_many({f"k{n}": {"n": n} for n in range(5)})
    private_redis.stop()
    saved = repo.save_many({"k0": {"n": 100}, "k9": {"n": 9}})  # commits with the cache down
    assert saved == {"k0": content_hash({"n": 100}), "k9": content_hash({"n": 9})}
    got = repo.get_many([f"k{n}" for n in range(10)])
    assert got == {"k0": {"n": 100}, **{f"k{n}": {"n": n} for n in range(1, 5)}, "k9": {"n": 9}}
    with engine.begin() as conn:
        conn.execute(sa.update(sessions).where(sessions.c.id == "k3").values(payload='{"n":33}'))
    report = repo.verify_integrity()
    assert report.cache_unavailable and report.checked == 6
    assert report.sql_mismatches == ["k3"]  # SQL is checked even when the cache is down
    stats = repo.stats()
    assert stats.fallbacks >= 10 and stats.hits == 0
    repo.cache.close()


_IDS = [f"sess-{n}" for n in range(20)]


def _write_during_outage(db_url: str, redis_url: str) -> None:
    """A process that writes while Redis is down and exits before it comes back."""
    engine = create_engine_for(db_url)
    repo = StateRepository(engine, RedisCache(redis_url, socket_timeout_s=0.2))
    for sid in _IDS:
        repo.save(sid, {"v": 2})
    os._exit(0)


def _read_after_recovery(db_url: str, redis_url: str) -> None:
    """A process that reads every session once Redis is back; exits with how many were stale."""
    engine = create_engine_for(db_url)
    repo = StateRepository(engine, RedisCache(redis_url))
    stale = sum(repo.get(sid) != {"v": 2} for sid in _IDS)
    os._exit(stale)


def _pending_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(cache_invalidations)
        return int(conn.execute(count).scalar_one())


def _run(target: Callable[..., None], *args: object) -> list[int | None]:
    return _join([multiprocessing.get_context("fork").Process(target=target, args=args)])


def _join(procs: list[multiprocessing.process.BaseProcess]) -> list[int | None]:
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    return [proc.exitcode for proc in procs]


def test_no_process_reads_a_value_older_than_a_write_made_during_an_outage(
    db_url: str, private_redis: PrivateRedis
) -> None:
    """Redis goes down with v1 cached (and persisted); another process commits v2 and exits;
    Redis comes back with its old data. Fresh processes and the long-running one that cached
    v1 must all read v2, for every session."""
    engine = create_engine_for(db_url)
    keeper = StateRepository(engine, RedisCache(private_redis.url))
    keeper.save_many({sid: {"v": 1} for sid in _IDS})
    assert all(keeper.get(sid) == {"v": 1} for sid in _IDS)
    admin = redis.Redis.from_url(private_redis.url)
    admin.save()  # the snapshot Redis will come back with
    admin.close()
    private_redis.stop()
    assert _run(_write_during_outage, db_url, private_redis.url) == [0]
    assert _pending_rows(engine) == len(_IDS)  # owed durably, though the writer is gone
    private_redis.start()
    raw = redis.Redis.from_url(private_redis.url)
    old = raw.get(f"agent_platform:state:{_IDS[0]}")
    raw.close()
    assert old is not None and old.endswith(b'{"v":1}')  # Redis is back with the old value
    ctx = multiprocessing.get_context("fork")
    readers = [
        ctx.Process(target=_read_after_recovery, args=(db_url, private_redis.url))
        for _ in range(3)  # several first readers at once: concurrent drains
    ]
    assert _join(readers) == [0, 0, 0]  # no stale session in any of them
    assert [keeper.get(sid) for sid in _IDS] == [{"v": 2}] * len(_IDS)
    assert _pending_rows(engine) == 0
    keeper.cache.close()
    engine.dispose()


def test_the_normal_path_adds_no_sql_round_trip(engine: sa.Engine, redis_prefix: str) -> None:
    """With Redis up, a cached read touches no database connection and a save only the one
    its own writes need (every SQL round trip needs a connection from the pool)."""
    repo = StateRepository(engine, RedisCache(REDIS_TEST_URL, prefix=redis_prefix))
    repo.save("warm", {"v": 0})
    assert repo.get("warm") == {"v": 0}  # the first read checks what is owed, once
    checkouts: list[object] = []
    statements: list[str] = []

    def checkout(*args: object) -> None:
        checkouts.append(args)

    def count(conn: sa.Connection, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    sa.event.listen(engine.pool, "checkout", checkout)
    try:
        for _ in range(10):
            assert repo.get("warm") == {"v": 0}
        assert checkouts == [] and statements == []
        repo.save("warm", {"v": 1})
    finally:
        sa.event.remove(engine.pool, "checkout", checkout)
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(checkouts) == 1  # the save's own connection, nothing else
    assert "cache_invalidations" not in " ".join(statements)
    if engine.dialect.name == "sqlite":
        assert len(statements) == 3  # upsert, hash index, audit: its own writes only
    assert repo.get("warm") == {"v": 1}
    repo.cache.close()


def test_concurrent_drains_apply_every_owed_key_once_and_lose_none(
    engine: sa.Engine, redis_prefix: str
) -> None:
    """Several threads drain one long list at once (several pages): every owed key is deleted,
    every row is gone, and no drainer fails."""
    cache = RedisCache(REDIS_TEST_URL, prefix=redis_prefix)
    keys = [f"state:owed-{n}" for n in range(1200)]
    cache.set_many(dict.fromkeys(keys, b"old"), 600)
    owed = PendingInvalidations(engine, redis_prefix)
    owed.record(keys)
    assert owed.count() == len(keys)
    errors: list[BaseException] = []
    drained: list[int] = []

    def drain() -> None:
        try:
            drained.append(owed.drain(cache))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and owed.count() == 0
    assert sum(drained) >= len(keys)  # a row read by two drainers counts twice, applied twice
    assert cache.get_many(keys) == [None] * len(keys)
    assert PendingInvalidations(engine, "another-namespace").count() == 0
    cache.close()
