"""StateRepository's cache tier: a refill racing a writer, and Redis slow or gone.

The shared Redis is never paused or stopped: ``CLIENT PAUSE`` and kills go to a private
redis-server of the test's own. The circuit breaker gets a hand-driven clock, so when it lets a
probe through is decided by the test, not by how fast the machine is.
"""

from __future__ import annotations

import redis
import sqlalchemy as sa

from agent_platform.canonical import content_hash
from agent_platform.db import create_engine_for
from agent_platform.state._breaker import CircuitBreaker
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache
from agent_platform.state.repository import StateRepository
from agent_platform.state.tables import sessions
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

    def write_meanwhile(conn: sa.Connection, *_: object) -> None:
        if not fired:
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
