"""The state repository's side of its cache: hash-framed values and outage bookkeeping.

A cached value is ``<64 hex SHA-256><canonical JSON>``; one that does not match its hash is a
miss. No method here raises :class:`CacheUnavailableError`: a failed call is counted, and the
keys a failed write or delete should have touched are remembered as stale and deleted as soon
as the cache answers again, so a recovered cache never serves an old value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from agent_platform.canonical import sha256_hex
from agent_platform.state._stats import StatsRecorder
from agent_platform.state.cache import Cache, CacheUnavailableError

__all__ = ["HASH_LEN", "TOMBSTONE", "SessionCache", "frame"]

HASH_LEN = 64
# What a delete leaves behind for a while instead of an empty key: a reader that read the row
# from SQL just before the delete committed refills only where the key is absent, so the
# tombstone stops it from resurrecting the deleted session. Never a valid frame (not hex).
TOMBSTONE = b"~" * HASH_LEN
TOMBSTONE_TTL_S = 60.0


def frame(digest: str, body: bytes) -> bytes:
    """The cached form of ``body`` whose SHA-256 is ``digest``."""
    return digest.encode() + body


class SessionCache:
    """Reads and writes hash-framed values, counting outages in ``stats``. Thread-safe."""

    def __init__(self, cache: Cache, stats: StatsRecorder, ttl_seconds: float) -> None:
        self.cache = cache
        self._stats = stats
        self._ttl = ttl_seconds
        self._stale: set[str] = set()
        self._stale_lock = threading.Lock()

    @property
    def has_stale(self) -> bool:
        """True while some keys still wait to be invalidated (read without the lock)."""
        return bool(self._stale)

    def pending(self) -> int:
        """How many keys wait to be invalidated."""
        with self._stale_lock:
            return len(self._stale)

    def _mark_stale(self, keys: Iterable[str]) -> None:
        with self._stale_lock:
            self._stale.update(keys)

    def _ready(self) -> bool:
        """Delete keys whose earlier update failed; False while the cache is still down."""
        if not self._stale:
            return True
        with self._stale_lock:
            keys = list(self._stale)
        try:
            self.cache.delete_many(keys)
        except CacheUnavailableError:
            self._stats.cache_error()
            return False
        with self._stale_lock:
            self._stale.difference_update(keys)
        return True

    def put(self, items: Mapping[str, bytes]) -> None:
        """Set framed values; on failure remember the keys as stale."""
        try:
            if not self._ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            if len(items) == 1:
                ((key, value),) = items.items()
                self.cache.set(key, value, self._ttl)
            else:
                self.cache.set_many(items, self._ttl)
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(items)

    def fill(self, items: Mapping[str, bytes]) -> None:
        """Refill values read from SQL where the cache has none; on failure mark them stale.

        Only-where-absent, so a reader that read SQL just before a writer committed cannot
        overwrite the writer's newer cached value with its older one.
        """
        try:
            if not self._ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            self.cache.add_many(items, self._ttl)
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(items)

    def bury(self, keys: Sequence[str]) -> None:
        """Replace ``keys`` with tombstones for a short while; on failure mark them stale."""
        try:
            if not self._ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            self.cache.set_many(dict.fromkeys(keys, TOMBSTONE), min(self._ttl, TOMBSTONE_TTL_S))
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(keys)

    def drop(self, keys: Sequence[str]) -> None:
        """Delete ``keys``; on failure remember them as stale."""
        try:
            if not self._ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            self.cache.delete_many(keys)
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(keys)

    def read(self, keys: Sequence[str]) -> tuple[list[bytes | None], bool]:
        """Cached values (None where absent) and whether the cache was unavailable."""
        try:
            if not self._ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            return self.cache.get_many(keys), False
        except CacheUnavailableError:
            self._stats.cache_error()
            return [None] * len(keys), True

    def hit(self, key: str) -> tuple[bytes | None, bool]:
        """The hot path: (verified cached body counted as a hit, False), or (None, unavailable).

        When the value is absent or corrupt the caller takes the general path, which reads
        the cache once more and does the counting; that only happens on a miss, where SQL
        dominates anyway. An outage is counted here and not retried.
        """
        try:
            value = self.cache.get(key)
        except CacheUnavailableError:
            self._stats.cache_error()
            return None, True
        if value is None or value == TOMBSTONE:
            return None, False
        body = value[HASH_LEN:]
        if sha256_hex(body).encode() != value[:HASH_LEN]:
            return None, False
        self._stats.read(1, 0, 0)
        return body, False

    def decode(self, value: bytes) -> bytes | None:
        """The body of a framed value; None for a tombstone, or (counted as corrupt) when the
        hash differs."""
        if value == TOMBSTONE:
            return None
        body = value[HASH_LEN:]
        if sha256_hex(body).encode() != value[:HASH_LEN]:
            self._stats.corrupt()
            return None
        return body
