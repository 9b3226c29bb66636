"""Durable session state: SQL is the truth, the cache is a copy that may be missing or stale.

Every write commits one SQL transaction (the session row, its hash in ``state_hash_index`` and
a ``state_audit`` row) and only then puts the value in the cache, so a failed commit leaves no
trace there. When the cache fails, reads are answered from SQL, writes still commit, and the
outage is counted in :meth:`StateRepository.stats`; keys whose cache update failed are owed an
invalidation, kept in SQL (``cache_invalidations``) so that it outlives the process, and
applied by whichever process reaches the cache first, before that process serves any value
from it: a recovered cache, even one restarted with old data, never serves an old value
(:mod:`._session_cache` says exactly when it checks).

Cached values carry their SHA-256 (``<64 hex><canonical JSON>``): a value that does not match
its hash is treated as a miss. :meth:`StateRepository.verify_integrity` compares SQL rows with
their hashes and cached copies with the durable rows, repairing the cache from SQL.

This module is the public face; the parts live beside it: input validation
(:mod:`._session_input`), SQL I/O (:mod:`._session_io`), cache framing and outage bookkeeping
(:mod:`._session_cache`, :mod:`._pending`), verification (:mod:`._integrity`) and counters
(:mod:`._stats`).

A read that misses refills the cache only where the key is still absent, so a reader that read
SQL just before a writer committed never overwrites the writer's newer cached value.

Known limit: two processes saving the same session at the same moment may set the cache in the
opposite order of their commits; the stale copy lives at most ``ttl_seconds`` and
``verify_integrity`` finds and evicts it. SQL itself is never torn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.state._integrity import IntegrityReport, verify_batch
from agent_platform.state._pending import PendingInvalidations
from agent_platform.state._session_cache import SessionCache, frame
from agent_platform.state._session_input import (
    check_settings,
    checked_body,
    encode_payload,
    session_key,
)
from agent_platform.state._session_io import (
    Row,
    delete_row,
    read_rows,
    row_batches,
    write_rows,
)
from agent_platform.state._sql import StateStatements, statements_for
from agent_platform.state._stats import RepositoryStats, StatsRecorder
from agent_platform.state.cache import Cache

__all__ = ["IntegrityReport", "RepositoryStats", "StateRepository"]


class StateRepository:
    """Save, read and delete JSON session state in SQL with a cache in front.

    Args:
        engine: a SQLAlchemy engine on PostgreSQL or SQLite, migrated to head.
        cache: a :class:`~agent_platform.state.cache.Cache` (Redis or in-process).
        ttl_seconds: how long a cached copy lives.
        max_payload_bytes: the largest canonical JSON payload accepted.
        key_prefix: prepended to the session id to form the cache key.
    """

    def __init__(
        self,
        engine: Engine,
        cache: Cache,
        *,
        ttl_seconds: float = 3600,
        max_payload_bytes: int = 1_000_000,
        key_prefix: str = "state:",
    ) -> None:
        check_settings(ttl_seconds, max_payload_bytes)
        self._engine = engine
        self._max_payload = max_payload_bytes
        self._prefix = key_prefix
        self._sql: StateStatements = statements_for(engine)
        self._stats = StatsRecorder()
        namespace = getattr(cache, "prefix", None)  # a shared cache (Redis) has one
        pending = PendingInvalidations(engine, namespace) if namespace is not None else None
        self._cache = SessionCache(cache, self._stats, float(ttl_seconds), pending)

    @property
    def cache(self) -> Cache:
        return self._cache.cache

    def save(self, session_id: str, payload: Any) -> str:
        """Durably save ``payload`` for ``session_id``; returns its SHA-256.

        Raises:
            InvalidInputError: bad session id. PayloadError: not JSON or too large.
            StorageError: the commit failed (the cache was not touched).
        """
        start = time.perf_counter()
        key = session_key(self._prefix, session_id)
        body, digest = encode_payload(session_id, payload, self._max_payload)
        owed = self._cache.with_write([key])
        write_rows(self._engine, self._sql, [(session_id, body.decode("utf-8"), digest)], owed)
        self._cache.put({key: frame(digest, body)}, recorded=owed is not None)
        self._stats.latency("save", time.perf_counter() - start)
        return digest

    def save_many(self, items: Mapping[str, Any]) -> dict[str, str]:
        """Save several sessions in one transaction; returns session id -> SHA-256.

        Every item is validated before anything is written: one bad item writes nothing.
        """
        start = time.perf_counter()
        rows: list[Row] = []
        cached: dict[str, bytes] = {}
        for session_id, payload in items.items():
            key = session_key(self._prefix, session_id)
            body, digest = encode_payload(session_id, payload, self._max_payload)
            rows.append((session_id, body.decode("utf-8"), digest))
            cached[key] = frame(digest, body)
        if rows:
            owed = self._cache.with_write(list(cached))
            write_rows(self._engine, self._sql, rows, owed)
            self._cache.put(cached, recorded=owed is not None)
        self._stats.latency("save_many", time.perf_counter() - start)
        return {session_id: digest for session_id, _, digest in rows}

    def get(self, session_id: str) -> Any | None:
        """The saved payload of ``session_id``, or None when there is none.

        Raises:
            IntegrityError: the durable row no longer matches its hash.
        """
        start = time.perf_counter()
        key = session_key(self._prefix, session_id)
        body, unavailable = self._cache.hit(key)
        if body is None:
            if unavailable:
                cached: list[bytes | None] = [None]
            else:
                cached, unavailable = self._cache.read([key])
            body = self._resolve([session_id], cached, unavailable).get(session_id)
        value = None if body is None else json.loads(body)
        self._stats.latency("get", time.perf_counter() - start)
        return value

    def get_many(self, session_ids: Sequence[str]) -> dict[str, Any]:
        """Payloads of those ``session_ids`` that exist (absent ones are left out)."""
        start = time.perf_counter()
        ids = list(dict.fromkeys(session_ids))
        keys = [session_key(self._prefix, s) for s in ids]
        found = self._resolve(ids, *self._cache.read(keys)) if ids else {}
        values = {s: json.loads(body) for s, body in found.items()}
        self._stats.latency("get_many", time.perf_counter() - start)
        return values

    def _resolve(
        self, ids: Sequence[str], cached: Sequence[bytes | None], unavailable: bool
    ) -> dict[str, bytes]:
        """Bodies for ``ids`` from the cached values read, the rest from SQL (then cached)."""
        found: dict[str, bytes] = {}
        for session_id, value in zip(ids, cached, strict=True):
            if value is not None:
                body = self._cache.decode(value)
                if body is not None:
                    found[session_id] = body
        missing = [s for s in ids if s not in found]
        self._stats.read(len(found), len(missing), len(missing) if unavailable else 0)
        if not missing:
            return found
        refill: dict[str, bytes] = {}
        for session_id, (payload, digest) in read_rows(self._engine, self._sql, missing).items():
            body = checked_body(session_id, payload, digest)
            found[session_id] = body
            refill[self._prefix + session_id] = frame(digest, body)
        if refill and not unavailable:
            self._cache.fill(refill)
        return found

    def delete(self, session_id: str) -> bool:
        """Delete ``session_id`` durably (audited), then from the cache; True if it existed."""
        start = time.perf_counter()
        key = session_key(self._prefix, session_id)
        owed = self._cache.with_write([key])
        deleted = delete_row(self._engine, self._sql, session_id, owed)
        self._cache.bury([key], recorded=owed is not None)
        self._stats.latency("delete", time.perf_counter() - start)
        return deleted

    def verify_integrity(self, session_id: str | None = None) -> IntegrityReport:
        """Check SQL rows against their hashes and cached copies against SQL.

        A cached copy that differs from an intact durable row is evicted and reported, so the
        next read refills it from SQL (evicting, not overwriting, cannot race a concurrent
        save into a stale copy); the cached copy of a row that fails its hash is evicted too,
        so no read serves it. ``session_id`` None checks every session.
        """
        if session_id is not None:
            session_key(self._prefix, session_id)
        report = IntegrityReport()
        for batch in row_batches(self._engine, self._sql, session_id):
            verify_batch(batch, self._prefix, self._cache, report)
        return report

    def stats(self) -> RepositoryStats:
        """Hits, misses, hit ratio, outages and per-operation latencies so far."""
        return self._stats.snapshot(self._cache.pending())
