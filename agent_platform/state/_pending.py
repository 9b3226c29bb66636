"""Cache invalidations owed after a cache outage, kept in SQL so they outlive the process.

When a write commits while the cache cannot be reached, the cache may still hold the old value
and serve it once it is back (a restarted Redis reloads its snapshot). The keys to delete are
therefore written to ``cache_invalidations``: in the write's own transaction when the cache is
already known to be down, or right after the commit when the write is what found it down. The
first process to reach the cache again, whichever it is, deletes those keys from the cache and
only then the rows (:meth:`PendingInvalidations.drain`), so a row is gone only once its key is.

Concurrent drainers are safe: each deletes the keys of the rows it read (deleting a key twice
is harmless) and then exactly those rows by id, so a row added meanwhile, even for the same
key, stays for the next drain. Rows are filed under the cache's namespace (its key prefix), so
deployments sharing a database but not a cache never drain each other's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform._dberror import storage_error
from agent_platform.state.cache import Cache
from agent_platform.state.tables import cache_invalidations

__all__ = ["PendingInvalidations"]

_PAGE = 500
_C = cache_invalidations.c


class PendingInvalidations:
    """The durable list of keys owed an invalidation in the cache namespace ``namespace``."""

    def __init__(self, engine: Engine, namespace: str) -> None:
        self._engine = engine
        self.namespace = namespace
        self._page = (
            sa.select(_C.id, _C.cache_key)
            .where(_C.namespace == namespace)
            .order_by(_C.id)
            .limit(_PAGE)
        )
        self._count = sa.select(sa.func.count()).where(_C.namespace == namespace)

    def insert(self, conn: Connection, keys: Sequence[str]) -> None:
        """Add ``keys`` in the caller's transaction (they commit with the caller's write)."""
        now = datetime.now(UTC)
        rows = [{"namespace": self.namespace, "cache_key": k, "created_at": now} for k in keys]
        conn.execute(sa.insert(cache_invalidations), rows)

    def record(self, keys: Sequence[str]) -> None:
        """Add ``keys`` in a transaction of their own. Raises StorageError."""
        try:
            with self._engine.begin() as conn:
                self.insert(conn, keys)
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error(f"recording {len(keys)} cache invalidation(s)", exc) from exc

    def drain(self, cache: Cache) -> int:
        """Delete every owed key from ``cache``, then its row; returns how many rows.

        Raises:
            CacheUnavailableError: the cache failed; the rows not yet applied stay.
            StorageError: the database failed.
        """
        drained = 0
        while True:
            page = self._read_page()
            if not page:
                return drained
            cache.delete_many(list(dict.fromkeys(key for _, key in page)))
            self._delete([row_id for row_id, _ in page])
            drained += len(page)
            if len(page) < _PAGE:
                return drained

    def count(self) -> int:
        """How many invalidations this namespace owes. Raises StorageError."""
        try:
            with self._engine.connect() as conn:
                return int(conn.execute(self._count).scalar_one())
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error("counting cache invalidations", exc) from exc

    def _read_page(self) -> list[tuple[int, str]]:
        try:
            with self._engine.connect() as conn:
                return [(int(r[0]), str(r[1])) for r in conn.execute(self._page)]
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error("reading cache invalidations", exc) from exc

    def _delete(self, ids: list[int]) -> None:
        statement = sa.delete(cache_invalidations).where(_C.id.in_(ids))
        try:
            with self._engine.begin() as conn:
                conn.execute(statement)
        except sa.exc.SQLAlchemyError as exc:
            raise storage_error("removing applied cache invalidations", exc) from exc
