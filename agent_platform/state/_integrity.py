"""The report :meth:`StateRepository.verify_integrity` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_platform.errors import IntegrityError

__all__ = ["IntegrityReport"]


@dataclass
class IntegrityReport:
    """What a verification pass found.

    Attributes:
        checked: durable rows examined.
        sql_mismatches: sessions whose stored payload no longer matches its stored SHA-256.
        cache_repaired: sessions whose cached copy differed from the durable row (now repaired).
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
