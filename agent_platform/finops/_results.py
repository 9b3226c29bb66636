"""What :class:`~agent_platform.finops.guardrails.FinOpsBudget` hands back to its callers.

Plain frozen values (a settled call, the status of a window, the status of the whole phase) with
the arithmetic that derives them from the store's counters, so callers such as the sensors and the
evidence assets depend on these shapes and not on a store's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from agent_platform.finops._store import WindowUsage
from agent_platform.finops.pricing import Cost

__all__ = ["BudgetStatus", "SpendResult", "WindowStatus", "window_status"]


@dataclass(frozen=True)
class SpendResult:
    """A settled call: what it cost and whether its reservation had already expired."""

    reservation_id: str | None
    provider: str
    model: str
    task: str
    prompt_tokens: int
    completion_tokens: int
    cost: Cost
    day_key: str
    month_key: str
    recorded_at: datetime
    late: bool

    @property
    def amount_eur(self) -> Decimal:
        return self.cost.amount_eur


@dataclass(frozen=True)
class WindowStatus:
    """One window's cap, settled spend and open holds (EUR, or tokens for a token window)."""

    key: str
    cap: Decimal
    committed: Decimal
    reserved: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.cap - self.committed - self.reserved)


@dataclass(frozen=True)
class BudgetStatus:
    """Caps, spend, holds and what is left, for the day, the month and each token window."""

    phase: int
    as_of: datetime
    day: WindowStatus
    month: WindowStatus
    tokens: dict[str, WindowStatus]


def window_status(key: str, cap: Decimal, usage: dict[str, WindowUsage]) -> WindowStatus:
    """The status of ``key`` under ``cap`` from the store's counters (an unused window: zeros)."""
    found = usage.get(key)
    if found is None:
        return WindowStatus(key, cap, Decimal(0), Decimal(0))
    return WindowStatus(key, cap, found.committed, found.reserved)
