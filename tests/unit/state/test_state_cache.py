"""The cache implementations and the circuit breaker, without a live server."""

from __future__ import annotations

import pytest

from agent_platform.config import Settings
from agent_platform.state._breaker import CircuitBreaker
from agent_platform.state.cache import (
    Cache,
    CacheUnavailableError,
    MemoryTTLCache,
    RedisCache,
    cache_from_settings,
)
from tests.support.servers import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_ttl_expiry() -> None:
    clock = FakeClock()
    cache = MemoryTTLCache(clock=clock)
    cache.set("a", b"1", ttl_seconds=5)
    cache.set_many({"b": b"2", "c": b"3"}, ttl_seconds=10)
    clock.now += 6
    assert cache.get("a") is None
    assert cache.get_many(["a", "b", "c"]) == [None, b"2", b"3"]
    clock.now += 5
    assert cache.get_many(["b", "c"]) == [None, None]
    assert len(cache) == 0


def test_memory_lru_eviction_keeps_recently_used() -> None:
    cache = MemoryTTLCache(max_entries=3)
    for key in "abc":
        cache.set(key, key.encode(), 60)
    assert cache.get("a") == b"a"  # a is now most recent
    cache.set("d", b"d", 60)
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [b"a", b"c", b"d"]
    assert cache.evictions == 1
    cache.delete_many(["a", "c"])
    cache.delete("d")
    assert len(cache) == 0


def test_memory_add_many_only_fills_absent_or_expired_keys() -> None:
    clock = FakeClock()
    cache = MemoryTTLCache(clock=clock)
    cache.set("new", b"writer", ttl_seconds=5)
    cache.set("old", b"expired", ttl_seconds=1)
    clock.now += 2
    cache.add_many({"new": b"refill", "old": b"refill", "none": b"refill"}, ttl_seconds=5)
    assert cache.get_many(["new", "old", "none"]) == [b"writer", b"refill", b"refill"]


def test_memory_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MemoryTTLCache(max_entries=0)
    with pytest.raises(ValueError):
        MemoryTTLCache().set("a", b"1", ttl_seconds=0)


def test_breaker_opens_then_probes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown_s=1.0, clock=clock)
    breaker.record_failure()
    assert breaker.allow() and not breaker.is_open
    breaker.record_failure()
    assert breaker.is_open and not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # others wait for the probe
    breaker.record_success()
    assert breaker.allow() and not breaker.is_open
    assert breaker.opened_count == 1


def test_redis_down_is_a_typed_error_then_short_circuits() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=5.0, clock=clock)
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", breaker=breaker, socket_timeout_s=0.1)
    with pytest.raises(CacheUnavailableError) as first:
        cache.get("k")
    assert not first.value.short_circuited
    assert isinstance(first.value.__cause__, Exception)
    for call in (
        lambda: cache.set("k", b"v", 1),
        lambda: cache.get_many(["k"]),
        lambda: cache.set_many({"k": b"v"}, 1),
        lambda: cache.add_many({"k": b"v"}, 1),
        lambda: cache.delete("k"),
    ):
        with pytest.raises(CacheUnavailableError) as again:
            call()
        assert again.value.short_circuited
    assert cache.ping() is False
    cache.close()


def test_redis_needs_url_or_client() -> None:
    with pytest.raises(ValueError):
        RedisCache()


def test_cache_from_settings_chooses_by_environment(tmp_path) -> None:
    memory = cache_from_settings(Settings.from_env({"AGENT_PLATFORM_HOME": str(tmp_path)}))
    assert isinstance(memory, MemoryTTLCache) and isinstance(memory, Cache)
    redis_cache = cache_from_settings(
        Settings.from_env(
            {
                "AGENT_PLATFORM_HOME": str(tmp_path),
                "AGENT_PLATFORM_REDIS_URL": "redis://127.0.0.1:1/0",
            }
        )
    )
    assert isinstance(redis_cache, RedisCache) and redis_cache.name == "redis"
    redis_cache.close()
