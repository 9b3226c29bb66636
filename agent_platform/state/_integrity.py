"""Integrity verification of session state: the pass over one batch of rows, and its report.

:meth:`StateRepository.verify_integrity` streams durable rows in batches through
:func:`verify_batch`, which checks each row against its stored SHA-256 and each cached copy
against its row, evicting copies of tampered rows and copies that drifted (the next read
refills those from SQL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_platform.canonical import sha256_hex
from agent_platform.errors import IntegrityError
from agent_platform.state._session_cache import SessionCache, frame
from agent_platform.state._session_io import Row

__all__ = ["IntegrityReport", "verify_batch"]


@dataclass
class IntegrityReport:
    """What a verification pass found.

    Attributes:
        checked: durable rows examined.
        sql_mismatches: sessions whose stored payload no longer matches its stored SHA-256.
        cache_repaired: sessions whose cached copy differed from the durable row; the copy was
            evicted, so the next read refills it from SQL.
        cache_unavailable: the cache could not be read, so cached copies were not compared.
    """

    checked: int = 0
    sql_mismatches: list[str] = field(default_factory=list)
    cache_repaired: list[str] = field(default_factory=list)
    cache_unavailable: bool = False

    @property
    def ok(self) -> bool:
        """True when every durable row matched its hash and every cached copy its row."""
        return not self.sql_mismatches and not self.cache_repaired

    def raise_for_sql(self) -> None:
        """Raise :class:`IntegrityError` naming the tampered sessions, if there are any."""
        if self.sql_mismatches:
            shown = ", ".join(repr(s) for s in self.sql_mismatches[:10])
            more = len(self.sql_mismatches) - 10
            suffix = f" and {more} more" if more > 0 else ""
            raise IntegrityError(
                f"{len(self.sql_mismatches)} session row(s) no longer match their SHA-256: "
                f"{shown}{suffix}"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "sql_mismatches": list(self.sql_mismatches),
            "cache_repaired": list(self.cache_repaired),
            "cache_unavailable": self.cache_unavailable,
            "ok": self.ok,
        }


def verify_batch(
    rows: list[Row], prefix: str, cache: SessionCache, report: IntegrityReport
) -> None:
    """Check ``rows`` and their cached copies, record findings in ``report``, fix the cache."""
    report.checked += len(rows)
    keys = [prefix + r[0] for r in rows]
    cached, unavailable = cache.read(keys)
    report.cache_unavailable = report.cache_unavailable or unavailable
    evict: list[str] = []
    for (session_id, payload, digest), key, value in zip(rows, keys, cached, strict=True):
        body = payload.encode("utf-8")
        if sha256_hex(body) != digest:
            report.sql_mismatches.append(session_id)
            evict.append(key)
            continue
        if value is not None and value != frame(digest, body):
            report.cache_repaired.append(session_id)
            evict.append(key)
    if evict:
        # With the cache down this marks the keys stale: they are deleted once it answers.
        cache.drop(evict)
