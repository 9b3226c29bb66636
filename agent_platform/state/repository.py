"""Durable session state: SQL is the truth, the cache is a copy that may be missing or stale.

Every write commits one SQL transaction (the session row, its hash in ``state_hash_index`` and
a ``state_audit`` row) and only then puts the value in the cache, so a failed commit leaves no
trace there. When the cache fails, reads are answered from SQL, writes still commit, and the
outage is counted in :meth:`StateRepository.stats`; keys whose cache update failed are deleted
from the cache as soon as it answers again, so a recovered cache never serves an old value.

Cached values carry their SHA-256 (``<64 hex><canonical JSON>``): a value that does not match
its hash is treated as a miss. :meth:`StateRepository.verify_integrity` compares SQL rows with
their hashes and cached copies with the durable rows, repairing the cache from SQL.

Known limit: two processes saving the same session at the same moment may set the cache in the
opposite order of their commits; the stale copy lives at most ``ttl_seconds`` and
``verify_integrity`` finds and repairs it. SQL itself is never torn.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent_platform.canonical import canonical_json
from agent_platform.errors import IntegrityError, InvalidInputError, PayloadError, StorageError
from agent_platform.state._integrity import IntegrityReport
from agent_platform.state._sql import StateStatements, statements_for
from agent_platform.state._stats import RepositoryStats, StatsRecorder
from agent_platform.state.cache import Cache, CacheUnavailableError
from agent_platform.state.tables import SESSION_ID_MAX

__all__ = ["IntegrityReport", "RepositoryStats", "StateRepository"]

_HASH_LEN = 64
_VERIFY_BATCH = 500


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


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
        if not ttl_seconds > 0:
            raise InvalidInputError(f"ttl_seconds must be > 0, got {ttl_seconds!r}")
        if max_payload_bytes < 2:
            raise InvalidInputError(f"max_payload_bytes must be >= 2, got {max_payload_bytes!r}")
        self._engine = engine
        self._cache = cache
        self._ttl = float(ttl_seconds)
        self._max_payload = max_payload_bytes
        self._prefix = key_prefix
        self._sql: StateStatements = statements_for(engine)
        self._stats = StatsRecorder()
        self._stale: set[str] = set()
        self._stale_lock = threading.Lock()

    @property
    def cache(self) -> Cache:
        return self._cache

    # -- validation -------------------------------------------------------------------------

    def _key(self, session_id: object) -> str:
        if not isinstance(session_id, str):
            raise InvalidInputError(
                f"session_id: got {type(session_id).__name__}; allowed: a str of 1..{SESSION_ID_MAX} characters"
            )
        if not session_id or len(session_id) > SESSION_ID_MAX:
            shown = session_id if len(session_id) <= 40 else session_id[:37] + "..."
            raise InvalidInputError(
                f"session_id: got {shown!r} ({len(session_id)} characters); "
                f"allowed: 1..{SESSION_ID_MAX} characters"
            )
        return self._prefix + session_id

    def _encode(self, session_id: str, payload: Any) -> tuple[bytes, str]:
        try:
            body = canonical_json(payload)
        except PayloadError as exc:
            raise PayloadError(f"session {session_id!r}: {exc}") from exc
        if len(body) > self._max_payload:
            raise PayloadError(
                f"session {session_id!r}: payload is {len(body)} bytes of canonical JSON; "
                f"allowed: at most {self._max_payload}"
            )
        return body, _sha(body)

    # -- cache helpers (never raise CacheUnavailableError) -----------------------------------

    def _mark_stale(self, keys: Iterable[str]) -> None:
        with self._stale_lock:
            self._stale.update(keys)

    def _cache_ready(self) -> bool:
        """Delete keys whose earlier update failed; False while the cache is still down."""
        if not self._stale:
            return True
        with self._stale_lock:
            keys = list(self._stale)
        try:
            self._cache.delete_many(keys)
        except CacheUnavailableError:
            self._stats.cache_error()
            return False
        with self._stale_lock:
            self._stale.difference_update(keys)
        return True

    def _cache_put(self, items: Mapping[str, bytes]) -> None:
        try:
            if not self._cache_ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            if len(items) == 1:
                ((key, value),) = items.items()
                self._cache.set(key, value, self._ttl)
            else:
                self._cache.set_many(items, self._ttl)
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(items)

    def _cache_drop(self, keys: Sequence[str]) -> None:
        try:
            if not self._cache_ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            self._cache.delete_many(keys)
        except CacheUnavailableError:
            self._stats.cache_error()
            self._mark_stale(keys)

    def _decode_cached(self, value: bytes) -> bytes | None:
        body = value[_HASH_LEN:]
        if _sha(body).encode() != value[:_HASH_LEN]:
            self._stats.corrupt()
            return None
        return body

    # -- SQL helpers --------------------------------------------------------------------------

    def _write(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Commit sessions + hash index + audit for (session_id, payload, hash) rows."""
        now = _now()
        if len(rows) == 1 and self._sql.save_one is not None:
            ((sid, payload, digest),) = rows
            params = {"sid": sid, "p": payload, "h": digest, "now": now}
            try:
                with self._engine.begin() as conn:
                    conn.execute(self._sql.save_one, params)
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"saving session {sid!r} failed: {exc}") from exc
            return
        sessions = [
            {"id": s, "payload": p, "payload_hash": h, "updated_at": now} for s, p, h in rows
        ]
        index = [{"hash": h, "session_id": s, "created_at": now} for s, _, h in rows]
        audit = [
            {"session_id": s, "action": "save", "payload_hash": h, "timestamp": now}
            for s, _, h in rows
        ]
        try:
            with self._engine.begin() as conn:
                conn.execute(self._sql.upsert_session, sessions)
                conn.execute(self._sql.index_hash, index)
                conn.execute(self._sql.audit, audit)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"saving {len(rows)} session(s) failed: {exc}") from exc

    def _read_rows(self, session_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        try:
            with self._engine.connect() as conn:
                if len(session_ids) == 1:
                    row = conn.execute(self._sql.select_one, {"sid": session_ids[0]}).first()
                    return {} if row is None else {session_ids[0]: (row[0], row[1])}
                result = conn.execute(self._sql.select_many, {"ids": list(session_ids)})
                return {r[0]: (r[1], r[2]) for r in result}
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"reading {len(session_ids)} session(s) failed: {exc}") from exc

    @staticmethod
    def _checked(session_id: str, payload: str, payload_hash: str) -> bytes:
        body = payload.encode("utf-8")
        if _sha(body) != payload_hash:
            raise IntegrityError(
                f"session {session_id!r}: stored payload does not match its SHA-256 {payload_hash}"
            )
        return body

    # -- public API ---------------------------------------------------------------------------

    def save(self, session_id: str, payload: Any) -> str:
        """Durably save ``payload`` for ``session_id``; returns its SHA-256.

        Raises:
            InvalidInputError: bad session id. PayloadError: not JSON or too large.
            StorageError: the commit failed (the cache was not touched).
        """
        start = time.perf_counter()
        key = self._key(session_id)
        body, digest = self._encode(session_id, payload)
        self._write([(session_id, body.decode("utf-8"), digest)])
        self._cache_put({key: digest.encode() + body})
        self._stats.latency("save", time.perf_counter() - start)
        return digest

    def save_many(self, items: Mapping[str, Any]) -> dict[str, str]:
        """Save several sessions in one transaction; returns session id -> SHA-256.

        Every item is validated before anything is written: one bad item writes nothing.
        """
        start = time.perf_counter()
        rows: list[tuple[str, str, str]] = []
        cached: dict[str, bytes] = {}
        for session_id, payload in items.items():
            key = self._key(session_id)
            body, digest = self._encode(session_id, payload)
            rows.append((session_id, body.decode("utf-8"), digest))
            cached[key] = digest.encode() + body
        if rows:
            self._write(rows)
            self._cache_put(cached)
        self._stats.latency("save_many", time.perf_counter() - start)
        return {session_id: digest for session_id, _, digest in rows}

    def get(self, session_id: str) -> Any | None:
        """The saved payload of ``session_id``, or None when there is none.

        Raises:
            IntegrityError: the durable row no longer matches its hash.
        """
        start = time.perf_counter()
        key = self._key(session_id)
        body, unavailable = self._cached_hit(key) if not self._stale else (None, False)
        if body is None:
            if unavailable:
                cached: list[bytes | None] = [None]
            else:
                cached, unavailable = self._cache_read([key])
            body = self._resolve([session_id], [key], cached, unavailable).get(session_id)
        value = None if body is None else json.loads(body)
        self._stats.latency("get", time.perf_counter() - start)
        return value

    def _cached_hit(self, key: str) -> tuple[bytes | None, bool]:
        """The hot path: (verified cached body counted as a hit, False), or (None, unavailable).

        When the value is absent or corrupt the caller takes the general path, which reads
        the cache once more and does the counting; that only happens on a miss, where SQL
        dominates anyway. An outage is counted here and not retried.
        """
        try:
            value = self._cache.get(key)
        except CacheUnavailableError:
            self._stats.cache_error()
            return None, True
        if value is None:
            return None, False
        body = value[_HASH_LEN:]
        if _sha(body).encode() != value[:_HASH_LEN]:
            return None, False
        self._stats.read(1, 0, 0)
        return body, False

    def get_many(self, session_ids: Sequence[str]) -> dict[str, Any]:
        """Payloads of those ``session_ids`` that exist (absent ones are left out)."""
        start = time.perf_counter()
        ids = list(dict.fromkeys(session_ids))
        keys = [self._key(s) for s in ids]
        found = self._resolve(ids, keys, *self._cache_read(keys)) if ids else {}
        values = {s: json.loads(body) for s, body in found.items()}
        self._stats.latency("get_many", time.perf_counter() - start)
        return values

    def _resolve(
        self,
        ids: Sequence[str],
        keys: Sequence[str],
        cached: Sequence[bytes | None],
        unavailable: bool,
    ) -> dict[str, bytes]:
        """Bodies for ``ids`` from the cached values read, the rest from SQL (then cached)."""
        found: dict[str, bytes] = {}
        for session_id, value in zip(ids, cached, strict=True):
            if value is not None:
                body = self._decode_cached(value)
                if body is not None:
                    found[session_id] = body
        missing = [s for s in ids if s not in found]
        hits = len(found)
        self._stats.read(hits, len(missing), len(missing) if unavailable else 0)
        if not missing:
            return found
        refill: dict[str, bytes] = {}
        for session_id, (payload, digest) in self._read_rows(missing).items():
            body = self._checked(session_id, payload, digest)
            found[session_id] = body
            refill[self._prefix + session_id] = digest.encode() + body
        if refill and not unavailable:
            self._cache_put(refill)
        return found

    def _cache_read(self, keys: Sequence[str]) -> tuple[list[bytes | None], bool]:
        """Cached values (None where unusable) and whether the cache was unavailable."""
        try:
            if not self._cache_ready():
                raise CacheUnavailableError("pending invalidations not yet applied")
            return self._cache.get_many(keys), False
        except CacheUnavailableError:
            self._stats.cache_error()
            return [None] * len(keys), True

    def delete(self, session_id: str) -> bool:
        """Delete ``session_id`` durably (audited), then from the cache; True if it existed."""
        start = time.perf_counter()
        key = self._key(session_id)
        try:
            with self._engine.begin() as conn:
                deleted = conn.execute(self._sql.delete_one, {"sid": session_id}).rowcount
                conn.execute(
                    self._sql.audit,
                    {
                        "session_id": session_id,
                        "action": "delete",
                        "payload_hash": None,
                        "timestamp": _now(),
                    },
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"deleting session {session_id!r} failed: {exc}") from exc
        self._cache_drop([key])
        self._stats.latency("delete", time.perf_counter() - start)
        return bool(deleted)

    def verify_integrity(self, session_id: str | None = None) -> IntegrityReport:
        """Check SQL rows against their hashes and cached copies against SQL.

        A cached copy that differs from an intact durable row is overwritten from SQL (and
        reported); the cached copy of a row that fails its hash is evicted, so no read serves
        it. ``session_id`` None checks every session.
        """
        report = IntegrityReport()
        for batch in self._row_batches(session_id):
            self._verify_batch(batch, report)
        return report

    def _row_batches(self, session_id: str | None) -> Iterator[list[tuple[str, str, str]]]:
        try:
            with self._engine.connect() as conn:
                if session_id is not None:
                    self._key(session_id)
                    rows = conn.execute(self._sql.select_many, {"ids": [session_id]})
                    yield [(r[0], r[1], r[2]) for r in rows]
                    return
                yield from self._stream_all(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"reading sessions for verification failed: {exc}") from exc

    def _stream_all(self, conn: Connection) -> Iterator[list[tuple[str, str, str]]]:
        result = conn.execution_options(yield_per=_VERIFY_BATCH).execute(self._sql.select_all)
        for partition in result.partitions():
            yield [(r[0], r[1], r[2]) for r in partition]

    def _verify_batch(self, rows: list[tuple[str, str, str]], report: IntegrityReport) -> None:
        report.checked += len(rows)
        keys = [self._prefix + r[0] for r in rows]
        cached, unavailable = self._cache_read(keys)
        report.cache_unavailable = report.cache_unavailable or unavailable
        repairs: dict[str, bytes] = {}
        evict: list[str] = []
        for (session_id, payload, digest), key, value in zip(rows, keys, cached, strict=True):
            body = payload.encode("utf-8")
            if _sha(body) != digest:
                report.sql_mismatches.append(session_id)
                evict.append(key)
                continue
            expected = digest.encode() + body
            if value is not None and value != expected:
                report.cache_repaired.append(session_id)
                repairs[key] = expected
        if unavailable:
            return
        if evict:
            self._cache_drop(evict)
        if repairs:
            self._cache_put(repairs)

    def stats(self) -> RepositoryStats:
        """Hits, misses, hit ratio, outages and per-operation latencies so far."""
        with self._stale_lock:
            pending = len(self._stale)
        return self._stats.snapshot(pending)
