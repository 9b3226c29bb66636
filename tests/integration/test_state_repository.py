"""StateRepository on real backends: SQLite and PostgreSQL, in-process cache and Redis."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from agent_platform.canonical import content_hash
from agent_platform.db import create_engine_for
from agent_platform.errors import IntegrityError, InvalidInputError, PayloadError, StorageError
from agent_platform.state._breaker import CircuitBreaker
from agent_platform.state._session_cache import TOMBSTONE
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache
from agent_platform.state.repository import StateRepository
from agent_platform.state.tables import sessions, state_audit, state_hash_index


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_save_get_stability_1000_iterations(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    rng = random.Random(7)
    failures = 0
    for n in range(1000):
        sid = f"s{n % 50}"
        payload = {"n": n, "tags": ["a", "é"], "v": rng.random()}
        repo.save(sid, payload)
        if repo.get(sid) != payload:
            failures += 1
    assert failures == 0
    assert _count(engine, state_audit) == 1000
    assert repo.verify_integrity().ok


def test_hit_ratio_matches_skewed_workload(engine: sa.Engine, cache: Cache) -> None:
    ids = [f"user-{n}" for n in range(200)]
    StateRepository(engine, MemoryTTLCache()).save_many({sid: {"id": sid} for sid in ids})
    repo = StateRepository(engine, cache)  # cold cache: first read of each id misses
    rng = random.Random(3)
    reads = [
        ids[rng.randrange(10)] if rng.random() < 0.95 else rng.choice(ids) for _ in range(2000)
    ]
    for sid in reads:
        assert repo.get(sid) == {"id": sid}
    stats = repo.stats()
    expected = 1 - len(set(reads)) / len(reads)
    assert stats.hits + stats.misses == len(reads)
    assert stats.hit_ratio == pytest.approx(expected)
    assert stats.hit_ratio > 0.9
    assert stats.fallbacks == 0


class _FailCommit:
    def __call__(self, conn: sa.Connection) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, RuntimeError("forced commit failure"))


_FAIL_AT_COMMIT = [
    "CREATE FUNCTION fail_at_commit() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'forced commit failure'; END $$ LANGUAGE plpgsql",
    "CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON state_audit "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()",
]


@contextmanager
def _commits_fail(engine: sa.Engine) -> Iterator[None]:
    """Every commit fails. On PostgreSQL for real, in the server (a deferred constraint
    trigger fires at commit, also of an autocommitted statement); on SQLite by the driver."""
    if engine.dialect.name != "postgresql":
        hook = _FailCommit()
        sa.event.listen(engine, "commit", hook)
        try:
            yield
        finally:
            sa.event.remove(engine, "commit", hook)
        return
    with engine.begin() as conn:
        for statement in _FAIL_AT_COMMIT:
            conn.execute(sa.text(statement))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER fail_at_commit ON state_audit"))


def test_failed_commit_leaves_cache_and_sql_untouched(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    repo.save("kept", {"v": 1})
    with _commits_fail(engine):
        with pytest.raises(StorageError, match="forced commit failure"):
            repo.save("kept", {"v": 2})
        with pytest.raises(StorageError):
            repo.save("new", {"v": 1})
    assert cache.get("state:new") is None
    assert repo.get("kept") == {"v": 1}
    assert repo.get("new") is None
    assert _count(engine, state_audit) == 1


def test_redis_killed_mid_workload_keeps_serving(db_url: str, private_redis) -> None:
    engine = create_engine_for(db_url)
    cache = RedisCache(private_redis.url, breaker=CircuitBreaker(threshold=1, cooldown_s=0.2))
    repo = StateRepository(engine, cache)
    for n in range(20):
        repo.save(f"s{n}", {"n": n})
    for n in range(20):
        assert repo.get(f"s{n}") == {"n": n}
    private_redis.stop()
    for n in range(20):
        repo.save(f"s{n}", {"n": n, "during": True})  # writes still commit
        assert repo.get(f"s{n}") == {"n": n, "during": True}  # reads fall back to SQL
    during = repo.stats()
    assert during.fallbacks >= 20
    assert during.cache_errors >= 20
    assert during.pending_invalidations == 20
    private_redis.start()
    time.sleep(0.25)  # past the breaker's cool-down
    for n in range(20):
        assert repo.get(f"s{n}") == {"n": n, "during": True}
    warm_before = repo.stats().hits
    for n in range(20):
        assert repo.get(f"s{n}") == {"n": n, "during": True}
    after = repo.stats()
    assert after.hits - warm_before == 20  # the cache warmed again
    assert after.pending_invalidations == 0
    cache.close()
    engine.dispose()


def test_tampered_sql_row_detected(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    repo.save("a", {"amount": 10})
    repo.save("b", {"amount": 20})
    with engine.begin() as conn:
        conn.execute(
            sa.update(sessions).where(sessions.c.id == "a").values(payload='{"amount":99}')
        )
    report = repo.verify_integrity()
    assert report.sql_mismatches == ["a"]
    assert not report.ok
    with pytest.raises(IntegrityError, match="'a'"):
        report.raise_for_sql()
    with pytest.raises(IntegrityError):
        repo.get("a")  # the evicted cache no longer hides the tampered row
    assert repo.get("b") == {"amount": 20}


def test_tampered_cache_value_repaired(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    repo.save("a", {"amount": 10})
    forged = b"{" + b"0" * 63 + b'"amount":99}'
    stale = content_hash({"amount": 5}).encode() + b'{"amount":5}'
    cache.set("state:a", stale, 60)
    report = repo.verify_integrity("a")
    assert report.cache_repaired == ["a"]
    assert cache.get("state:a") is None  # evicted: the next read refills it from SQL
    assert repo.get("a") == {"amount": 10}
    assert cache.get("state:a") == content_hash({"amount": 10}).encode() + b'{"amount":10}'
    assert repo.verify_integrity().ok
    cache.set("state:a", forged, 60)  # corrupt bytes: hash check turns it into a miss
    assert repo.get("a") == {"amount": 10}
    assert repo.stats().cache_corrupt == 1


def test_ttl_expiry(engine: sa.Engine, cache: Cache) -> None:
    # A TTL long enough that a stalled machine still reads the value back before it expires.
    repo = StateRepository(engine, cache, ttl_seconds=1.5)
    repo.save("t", {"v": 1})
    assert cache.get("state:t") is not None
    time.sleep(2.0)
    assert cache.get("state:t") is None
    misses = repo.stats().misses
    assert repo.get("t") == {"v": 1}  # served from SQL, cache refilled
    assert repo.stats().misses == misses + 1
    assert cache.get("state:t") is not None


def test_delete_removes_row_and_cache_and_audits(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    repo.save("d", [1, 2])
    assert repo.delete("d") is True
    assert repo.delete("d") is False
    assert repo.get("d") is None
    assert cache.get("state:d") == TOMBSTONE  # no copy of the payload; a late refill can't land
    with engine.connect() as conn:
        actions = conn.execute(sa.select(state_audit.c.action).order_by(state_audit.c.id)).scalars()
        assert list(actions) == ["save", "delete", "delete"]


def test_batches(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache)
    hashes = repo.save_many({f"k{n}": {"n": n} for n in range(30)})
    assert hashes["k3"] == content_hash({"n": 3})
    assert _count(engine, state_hash_index) == 30
    got = repo.get_many([f"k{n}" for n in range(35)])
    assert got == {f"k{n}": {"n": n} for n in range(30)}


BAD_INPUTS: list[tuple[object, object, type[Exception]]] = [
    ("", {"a": 1}, InvalidInputError),
    ("x" * 256, {"a": 1}, InvalidInputError),
    (42, {"a": 1}, InvalidInputError),
    ("ok", {"a": object()}, PayloadError),
    ("ok", {"a": float("nan")}, PayloadError),
    ("ok", {"a": "y" * 2000}, PayloadError),
]


def test_bad_input_writes_nothing(engine: sa.Engine, cache: Cache) -> None:
    repo = StateRepository(engine, cache, max_payload_bytes=1000)
    for session_id, payload, error in BAD_INPUTS:
        with pytest.raises(error):
            repo.save(session_id, payload)  # type: ignore[arg-type]
        with pytest.raises(error):
            repo.save_many({"fine": {"a": 1}, session_id: payload})  # type: ignore[dict-item]
    for session_id in ("", "x" * 256):
        with pytest.raises(InvalidInputError):
            repo.get(session_id)
        with pytest.raises(InvalidInputError):
            repo.delete(session_id)
    assert _count(engine, sessions) == 0
    assert _count(engine, state_audit) == 0
    assert cache.get("state:fine") is None
    with pytest.raises(InvalidInputError):
        StateRepository(engine, cache, ttl_seconds=0)
