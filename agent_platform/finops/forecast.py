"""Run-rate forecast of month-end spend, and when the monthly cap would be breached.

Pure arithmetic over (spent so far, month bounds, now), so the guardrails, the evidence job's
month replay and the tests compute the same projection; the lead time of the forecast alert is
the gap between the alert's time and the breach it predicted (or the cap refusal that followed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from agent_platform.finops.pricing import MICRO

__all__ = ["Forecast", "project_month"]


@dataclass(frozen=True)
class Forecast:
    """Projection of one month window at ``as_of``.

    ``projected_breach_at`` is when spend at the current run rate reaches the cap (None when it
    would not within the month); ``reliable`` is False while less than the configured minimum of
    the month has elapsed (no alert is raised on an unreliable projection).
    """

    month_key: str
    as_of: datetime
    spent_eur: Decimal
    cap_eur: Decimal
    elapsed_hours: float
    rate_eur_per_hour: Decimal
    projected_month_end_eur: Decimal
    projected_breach_at: datetime | None
    reliable: bool

    @property
    def will_breach(self) -> bool:
        return self.projected_breach_at is not None


def project_month(
    month_key: str,
    spent: Decimal,
    cap: Decimal,
    start: datetime,
    end: datetime,
    now: datetime,
    min_elapsed_hours: float,
) -> Forecast:
    """Project month-end spend linearly from the spend so far (``start <= now < end``)."""
    elapsed = Decimal(str(max(0.0, (now - start).total_seconds())))
    total = Decimal(str((end - start).total_seconds()))
    rate = (spent * 3600 / elapsed).quantize(MICRO) if elapsed > 0 else Decimal(0)
    projected = (spent * total / elapsed).quantize(MICRO) if elapsed > 0 else spent
    breach_at: datetime | None = None
    if elapsed > 0 and spent > 0 and projected > cap:
        # At the current run rate the cap is reached after elapsed * cap / spent seconds.
        breach_at = max(now, start + timedelta(seconds=float(elapsed * cap / spent)))
    return Forecast(
        month_key=month_key,
        as_of=now,
        spent_eur=spent,
        cap_eur=cap,
        elapsed_hours=float(elapsed) / 3600,
        rate_eur_per_hour=rate,
        projected_month_end_eur=projected,
        projected_breach_at=breach_at,
        reliable=float(elapsed) / 3600 >= min_elapsed_hours,
    )
