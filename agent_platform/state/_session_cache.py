"""The state repository's side of its cache: hash-framed values and what an outage leaves owed.

A cached value is ``<64 hex SHA-256><canonical JSON>``; one that does not match its hash is a
miss. No method here raises :class:`CacheUnavailableError`: a failed call is counted, and the
keys a failed write or delete should have touched are *owed* an invalidation. Owed keys are
kept durably in SQL (:mod:`._pending`): with the write itself while the cache is known to be
down (:meth:`SessionCache.with_write`), else right after the commit that found it down. Before
any value is served from the cache again, the owed keys are deleted there, by whichever
process gets there first, so a recovered cache, even one restarted with its old data, never
serves a value older than the database.

When is "again"? After any failure of this process's cache calls, and whenever the cache has
opened a new connection (``RedisCache.connects``): redis-py silently replaces connections a
restart broke, so a process that saw no error may still be talking to a server that came back
with old data. The first read of a process counts as such a moment. In between, the hot path
compares two integers and touches no SQL.

Known limit: a process whose connections never broke keeps serving from the cache while another
process that cannot reach it (a network partition, not an outage) owes invalidations; those are
applied when any process reconnects, and the stale values expire with their TTL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy.engine import Connection

from agent_platform.canonical import sha256_hex
from agent_platform.errors import StorageError
from agent_platform.state._pending import PendingInvalidations
from agent_platform.state._stats import StatsRecorder
from agent_platform.state.cache import Cache, CacheUnavailableError

__all__ = ["HASH_LEN", "TOMBSTONE", "SessionCache", "frame"]

HASH_LEN = 64
# What a delete leaves behind for a while instead of an empty key: a reader that read the row
# from SQL just before the delete committed refills only where the key is absent, so the
# tombstone stops it from resurrecting the deleted session. Never a valid frame (not hex).
TOMBSTONE = b"~" * HASH_LEN
TOMBSTONE_TTL_S = 60.0
_UNCHECKED = object()
_TRIES = 3


def frame(digest: str, body: bytes) -> bytes:
    """The cached form of ``body`` whose SHA-256 is ``digest``."""
    return digest.encode() + body


class SessionCache:
    """Reads and writes hash-framed values, counting outages in ``stats``. Thread-safe.

    Args:
        pending: the durable list of owed invalidations (None: owed keys are kept in memory,
            enough for a cache that lives and dies with the process).
    """

    def __init__(
        self,
        cache: Cache,
        stats: StatsRecorder,
        ttl_seconds: float,
        pending: PendingInvalidations | None = None,
    ) -> None:
        self.cache = cache
        self._stats = stats
        self._ttl = ttl_seconds
        self._pending = pending
        self._stale: set[str] = set()  # owed keys that could not be written to SQL
        self._stale_lock = threading.Lock()
        self._down = False
        self._checked: object = _UNCHECKED if pending is not None else self._epoch()

    def _epoch(self) -> int | None:
        return getattr(self.cache, "connects", None)

    @property
    def ready(self) -> bool:
        """Nothing owed and no new connection since the owed list was last applied."""
        return not self._down and not self._stale and self._checked == self._epoch()

    def pending(self) -> int:
        """How many keys are owed an invalidation (this namespace's rows, plus any this
        process had to keep in memory)."""
        with self._stale_lock:
            owed = len(self._stale)
        if self._pending is not None:
            # A statistic: the database's own failure is reported where it matters.
            with contextlib.suppress(StorageError):
                owed += self._pending.count()
        return owed

    def with_write(self, keys: Sequence[str]) -> Callable[[Connection], None] | None:
        """While the cache is known to be down: what records ``keys`` as owed inside the
        write's transaction (None when the cache is up, or owed keys are not kept in SQL)."""
        pending = self._pending
        if not self._down or pending is None:
            return None
        return lambda conn: pending.insert(conn, keys)

    def _failed(self) -> None:
        """A cache call failed: count it, and check what is owed before the next one."""
        self._stats.cache_error()
        self._down = True

    def _owe(self, keys: Iterable[str], recorded: bool) -> None:
        """A cache call failed after ``keys`` changed in SQL: make sure they are invalidated."""
        self._failed()
        keys = list(keys)
        if recorded or not keys:
            return
        if self._pending is not None:
            try:
                self._pending.record(keys)
                return
            except StorageError:
                pass  # kept in memory below: still applied if this process lives to see it
        with self._stale_lock:
            self._stale.update(keys)

    def _breaker_open(self) -> bool:
        breaker = getattr(self.cache, "breaker", None)
        return bool(breaker is not None and breaker.is_open)

    def _recover(self) -> bool:
        """Apply what is owed if needed; False while the cache (or the owed list) is out of
        reach. Repeated when applying it opened a new connection (at most a few times)."""
        if self.ready:
            return True
        if self._down and self._breaker_open():
            return False
        for _ in range(_TRIES):
            epoch = self._epoch()
            try:
                self._apply_owed()
            except CacheUnavailableError:
                self._down = True
                return False
            except StorageError:
                return False  # the owed list is unreadable: the cache cannot be trusted yet
            if self._epoch() == epoch:
                self._checked = epoch
                self._down = False
                return True
        return False

    def _apply_owed(self) -> None:
        if self._pending is not None:
            self._pending.drain(self.cache)
        if self._stale:
            with self._stale_lock:
                keys = list(self._stale)
            self.cache.delete_many(keys)
            with self._stale_lock:
                self._stale.difference_update(keys)

    def _guard(self) -> None:
        if not self._recover():
            raise CacheUnavailableError("owed invalidations not yet applied")

    def put(self, items: Mapping[str, bytes], *, recorded: bool = False) -> None:
        """Set framed values after their commit; on failure owe their keys (``recorded``:
        the write's transaction already owed them)."""
        try:
            self._guard()
            if len(items) == 1:
                ((key, value),) = items.items()
                self.cache.set(key, value, self._ttl)
            else:
                self.cache.set_many(items, self._ttl)
        except CacheUnavailableError:
            self._owe(items, recorded)

    def fill(self, items: Mapping[str, bytes]) -> None:
        """Refill values read from SQL where the cache has none; a failure owes nothing.

        Only-where-absent, so a reader that read SQL just before a writer committed cannot
        overwrite the writer's newer cached value with its older one.
        """
        try:
            self._guard()
            self.cache.add_many(items, self._ttl)
        except CacheUnavailableError:
            self._failed()

    def bury(self, keys: Sequence[str], *, recorded: bool = False) -> None:
        """Replace ``keys`` with tombstones for a short while; on failure owe them."""
        try:
            self._guard()
            self.cache.set_many(dict.fromkeys(keys, TOMBSTONE), min(self._ttl, TOMBSTONE_TTL_S))
        except CacheUnavailableError:
            self._owe(keys, recorded)

    def drop(self, keys: Sequence[str]) -> None:
        """Delete ``keys``; on failure owe them."""
        try:
            self._guard()
            self.cache.delete_many(keys)
        except CacheUnavailableError:
            self._owe(keys, recorded=False)

    def read(self, keys: Sequence[str]) -> tuple[list[bytes | None], bool]:
        """Cached values (None where absent) and whether the cache was unavailable.

        A read that went over a connection opened meanwhile is not trusted: what is owed is
        applied first, then the keys are read again.
        """
        for _ in range(_TRIES):
            try:
                self._guard()
                epoch = self._epoch()
                values = self.cache.get_many(keys)
            except CacheUnavailableError:
                self._failed()
                return [None] * len(keys), True
            if self._epoch() == epoch:
                return values, False
        self._stats.cache_error()
        return [None] * len(keys), True

    def hit(self, key: str) -> tuple[bytes | None, bool]:
        """The hot path: (verified cached body counted as a hit, False), or (None, unavailable).

        When nothing is owed it reads the cache once; when the value is absent or corrupt, or
        something is owed, or the read opened a new connection, the caller takes the general
        path (:meth:`read`), which applies what is owed and does the counting. An outage is
        counted here and not retried.
        """
        if not self.ready:
            return None, False
        try:
            value = self.cache.get(key)
        except CacheUnavailableError:
            self._failed()
            return None, True
        if value is None or value == TOMBSTONE or self._checked != self._epoch():
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
