"""The small interface every budget backend implements, and the values that cross it.

:class:`FinOpsBudget` decides *what* to hold and charge (windows, amounts, limits); a store only
makes it atomic across processes. Three stores implement it: PostgreSQL (row locks), SQLite
(``BEGIN IMMEDIATE``) and Redis (one Lua script per operation, spend persisted to SQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

__all__ = [
    "AlertRow",
    "BudgetStore",
    "Hold",
    "Reservation",
    "ReserveOutcome",
    "SettleOutcome",
    "SpendRow",
    "WindowUsage",
]


@dataclass(frozen=True)
class Hold:
    """An amount held against one window: EUR for ``day:``/``month:``, tokens for ``tokens:``."""

    window_key: str
    amount: Decimal
    limit: Decimal


@dataclass(frozen=True)
class Reservation:
    """Capacity held before a provider call; settle it with commit or release."""

    id: str
    provider: str
    model: str
    task: str
    amount_eur: Decimal
    tokens: int
    holds: tuple[Hold, ...]
    created_at: datetime
    expires_at: datetime
    correlation_id: str | None = None


@dataclass(frozen=True)
class WindowUsage:
    """Counters of one window; ``committed + reserved <= limit`` is the invariant."""

    window_key: str
    limit: Decimal
    committed: Decimal
    reserved: Decimal


@dataclass(frozen=True)
class ReserveOutcome:
    """``refused_key`` names the window that could not take the hold (None: reserved)."""

    refused_key: str | None
    usage: dict[str, WindowUsage] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refused_key is None


@dataclass(frozen=True)
class SpendRow:
    """One row of ``spend_records``."""

    reservation_id: str | None
    provider: str
    model: str
    task: str
    prompt_tokens: int
    completion_tokens: int
    amount: Decimal
    currency: str
    rate_to_eur: Decimal
    amount_eur: Decimal
    day_key: str
    month_key: str
    correlation_id: str | None
    recorded_at: datetime

    def as_values(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SettleOutcome:
    """``late`` is True when the reservation had already expired (the spend still counts)."""

    late: bool
    usage: dict[str, WindowUsage]


@dataclass(frozen=True)
class AlertRow:
    """One row of ``budget_alerts``, plus what the event sink should carry."""

    window_key: str
    level: str
    correlation_id: str
    message: str
    spent_eur: Decimal
    cap_eur: Decimal
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)


class BudgetStore(Protocol):
    """Atomic counters behind :class:`FinOpsBudget`."""

    backend: str

    def reserve(self, reservation: Reservation, now: datetime) -> ReserveOutcome:
        """Reclaim expired holds, then hold every window of ``reservation`` or none."""
        ...

    def settle(
        self,
        reservation: Reservation | None,
        charges: Sequence[Hold],
        spend: SpendRow,
        now: datetime,
    ) -> SettleOutcome:
        """Turn ``reservation``'s holds into ``charges`` and persist ``spend``."""
        ...

    def release(self, reservation: Reservation, now: datetime) -> bool:
        """Drop ``reservation``'s holds; False when it had already expired."""
        ...

    def sweep(self, now: datetime) -> int:
        """Reclaim every expired reservation; returns how many."""
        ...

    def usage(self, keys: Sequence[str]) -> dict[str, WindowUsage]:
        """Current counters of ``keys`` (absent windows are left out)."""
        ...

    def record_alert(self, alert: AlertRow, sink: Any) -> bool:
        """Insert ``alert`` once per (window, level); publish through ``sink`` when inserted."""
        ...

    def close(self) -> None:
        """Release connections this store opened itself."""
        ...
