"""The cache tier in front of the durable store: one protocol, two implementations.

:class:`MemoryTTLCache` is the embedded default (in-process, thread-safe, TTL, bounded with LRU
eviction); :class:`RedisCache` is production (redis-py, key prefix, pipelined batches, short
socket timeouts, a circuit breaker). Both speak bytes. Every failure of the cache server is
translated into :class:`CacheUnavailableError`, which the state repository counts as an outage
and answers from SQL instead; the cache never decides what is true, the database does.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_platform.errors import StorageError
from agent_platform.state._breaker import CircuitBreaker

if TYPE_CHECKING:
    import redis

    from agent_platform.config import Settings

__all__ = [
    "Cache",
    "CacheUnavailableError",
    "MemoryTTLCache",
    "RedisCache",
    "cache_from_settings",
]


class CacheUnavailableError(StorageError):
    """The cache server failed, timed out, or its circuit breaker is open.

    ``short_circuited`` is True when no request was sent because the breaker was open.
    """

    def __init__(self, message: str, *, short_circuited: bool = False) -> None:
        self.short_circuited = short_circuited
        super().__init__(message)


@runtime_checkable
class Cache(Protocol):
    """What the state repository needs from a cache. Values are bytes; TTLs are seconds."""

    name: str

    def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired. Raises CacheUnavailableError."""
        ...

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds``. Raises CacheUnavailableError."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if present. Raises CacheUnavailableError."""
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove every key in ``keys``. Raises CacheUnavailableError."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values in the order of ``keys`` (None where absent). Raises CacheUnavailableError."""
        ...

    def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        """Store every item with the same TTL. Raises CacheUnavailableError."""
        ...

    def add_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        """Store each item only where its key is absent (a refill never overwrites a newer
        value a writer has set meanwhile). Raises CacheUnavailableError."""
        ...

    def ping(self) -> bool:
        """True when the cache answers; never raises."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")


class MemoryTTLCache:
    """In-process cache with per-entry TTL and LRU eviction beyond ``max_entries``."""

    name = "memory"

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def _get_locked(self, key: str, now: float) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    def _set_locked(self, key: str, value: bytes, expires_at: float) -> None:
        self._data[key] = (expires_at, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)
            self.evictions += 1

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._get_locked(key, self._clock())

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            now = self._clock()
            return [self._get_locked(key, now) for key in keys]

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        with self._lock:
            self._set_locked(key, value, self._clock() + ttl_seconds)

    def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        with self._lock:
            expires_at = self._clock() + ttl_seconds
            for key, value in items.items():
                self._set_locked(key, value, expires_at)

    def add_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        with self._lock:
            now = self._clock()
            for key, value in items.items():
                if self._get_locked(key, now) is None:
                    self._set_locked(key, value, now + ttl_seconds)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._data.clear()


class RedisCache:
    """Redis through redis-py, with a key prefix, pipelined batches and a circuit breaker.

    Args:
        url: a ``redis://`` URL; ignored when ``client`` is given.
        client: an existing client (the caller keeps ownership of its pool).
        prefix: prepended to every key, so several deployments or tests share one server.
        socket_timeout_s: connect and read timeout; short, because SQL is the fallback.
        breaker: the circuit breaker; by default it opens on the first failure for 1 s.

    ``connects`` counts the connections this cache has opened (None for a caller's client,
    whose connections it does not see). redis-py replaces a dead pooled connection silently,
    so a Redis restarted with old data would otherwise go unnoticed; the state repository
    re-checks the invalidations owed (:mod:`._pending`) whenever this number changes.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "agent_platform:",
        socket_timeout_s: float = 0.25,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        import redis as redis_lib
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.connects: int | None = None
        if client is None:
            if not url:
                raise ValueError("RedisCache needs a url or a client")
            self.connects = 0
            client = redis_lib.Redis.from_url(
                url,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                retry=Retry(NoBackoff(), 0),
                redis_connect_func=self._connected,
            )
            self._owns_client = True
        else:
            self._owns_client = False
        self._client = client
        self._prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (redis_lib.RedisError, OSError)
        self.breaker = breaker or CircuitBreaker(threshold=1, cooldown_s=1.0)

    @property
    def prefix(self) -> str:
        return self._prefix

    def _connected(self, connection: Any) -> None:
        """redis-py's hook on every new connection: do its usual set-up, then count it."""
        connection.on_connect()
        self.connects = (self.connects or 0) + 1

    def _guard(self) -> None:
        if not self.breaker.allow():
            raise CacheUnavailableError("redis circuit open", short_circuited=True)

    def _failed(self, exc: BaseException) -> CacheUnavailableError:
        self.breaker.record_failure()
        return CacheUnavailableError(f"redis unavailable: {type(exc).__name__}: {exc}")

    def get(self, key: str) -> bytes | None:
        self._guard()
        try:
            value = self._client.get(self._prefix + key)
        except self._errors as exc:
            raise self._failed(exc) from exc
        self.breaker.record_success()
        return value  # type: ignore[return-value]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        self._guard()
        try:
            values = self._client.mget([self._prefix + key for key in keys])
        except self._errors as exc:
            raise self._failed(exc) from exc
        self.breaker.record_success()
        return list(values)  # type: ignore[arg-type]

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        self._guard()
        try:
            self._client.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))
        except self._errors as exc:
            raise self._failed(exc) from exc
        self.breaker.record_success()

    def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        self._pipelined_set(items, ttl_seconds, only_absent=False)

    def add_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        self._pipelined_set(items, ttl_seconds, only_absent=True)

    def _pipelined_set(
        self, items: Mapping[str, bytes], ttl_seconds: float, *, only_absent: bool
    ) -> None:
        _check_ttl(ttl_seconds)
        if not items:
            return
        self._guard()
        px = max(1, int(ttl_seconds * 1000))
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(self._prefix + key, value, px=px, nx=only_absent)
            pipe.execute()
        except self._errors as exc:
            raise self._failed(exc) from exc
        self.breaker.record_success()

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        self._guard()
        try:
            self._client.delete(*[self._prefix + key for key in keys])
        except self._errors as exc:
            raise self._failed(exc) from exc
        self.breaker.record_success()

    def ping(self) -> bool:
        try:
            alive = bool(self._client.ping())
        except self._errors:
            return False
        if alive:
            self.breaker.record_success()
        return alive

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def cache_from_settings(settings: Settings, *, prefix: str = "agent_platform:") -> Cache:
    """Redis when ``AGENT_PLATFORM_REDIS_URL`` is set, otherwise the in-process cache."""
    if settings.redis_url:
        return RedisCache(settings.redis_url, prefix=prefix)
    return MemoryTTLCache()
