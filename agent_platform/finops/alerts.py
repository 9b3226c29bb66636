"""Edge-triggered budget alerts: once per window at the threshold, at the cap, and on forecast.

The unique key (window_key, level) of ``budget_alerts`` makes each alert fire exactly once even
when many processes cross the threshold together; this module only decides *when* to try. An
alert goes to the notification outbox (through the optional :class:`EventSink`, inside the same
transaction as its row) or, with no sink, is recorded in ``budget_alerts`` only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent_platform.errors import InvalidInputError
from agent_platform.events import EventSink
from agent_platform.finops._store import AlertRow, WindowUsage
from agent_platform.finops.forecast import Forecast, project_month

if TYPE_CHECKING:
    from agent_platform.finops.guardrails import FinOpsBudget

__all__ = ["LEVELS", "AlertPolicy"]

LEVELS = ("threshold", "cap", "forecast")
_HUNDRED = Decimal(100)


class AlertPolicy:
    """Decides which alerts a budget event raises; remembers what this instance already saw."""

    def __init__(self, budget: FinOpsBudget, sink: EventSink | None) -> None:
        self.budget = budget
        self.sink = sink
        self._seen: set[tuple[str, str]] = set()

    def after_commit(
        self, usage: dict[str, WindowUsage], correlation_id: str | None, now: datetime
    ) -> None:
        """Threshold and cap alerts for the money windows just charged, then the forecast."""
        percent = self.budget.config.alerts.threshold_percent
        for key, window in usage.items():
            if key.startswith("tokens:"):
                continue
            spent, cap = window.committed, window.limit
            if spent * _HUNDRED >= cap * percent:
                self._fire(key, "threshold", spent, cap, correlation_id, now)
            if spent >= cap:
                self._fire(key, "cap", spent, cap, correlation_id, now)
        if self.budget.config.alerts.forecast:
            month = self.budget.calendar.month_key(now)
            if month in usage and (month, "forecast") not in self._seen:
                projection = self._project(usage[month].committed, now)
                if projection.reliable and projection.will_breach:
                    self._fire_forecast(projection, correlation_id, now)

    def on_refusal(
        self,
        key: str,
        usage: WindowUsage | None,
        correlation_id: str | None,
        now: datetime,
    ) -> None:
        """A money cap refused a request: the window is fully allocated (the 100 % alert)."""
        if key.startswith("tokens:") or usage is None:
            return
        self._fire(key, "cap", usage.committed, usage.limit, correlation_id, now)

    def forecast(self, now: datetime) -> Forecast:
        month = self.budget.calendar.month_key(now)
        usage = self.budget.store.usage([month]).get(month)
        return self._project(usage.committed if usage else Decimal(0), now)

    def trigger(
        self,
        window_key: str,
        level: str,
        *,
        spent_eur: Decimal,
        cap_eur: Decimal,
        message: str | None,
        correlation_id: str | None,
        details: dict[str, Any] | None,
        now: datetime,
    ) -> AlertRow | None:
        """Insert the alert once per (window, level); publish it when a sink is configured."""
        if level not in LEVELS:
            raise InvalidInputError(f"alert level {level!r} is not allowed; allowed: {LEVELS}")
        percent = (spent_eur * _HUNDRED / cap_eur).quantize(Decimal("0.01")) if cap_eur else None
        row = AlertRow(
            window_key=window_key,
            level=level,
            correlation_id=correlation_id or uuid.uuid4().hex,
            message=message or f"{window_key}: {level}: {spent_eur} of {cap_eur} EUR ({percent} %)",
            spent_eur=spent_eur,
            cap_eur=cap_eur,
            created_at=now,
            details={"phase": self.budget.phase, "percent": str(percent), **(details or {})},
        )
        inserted = self.budget.store.record_alert(row, self.sink)
        self._seen.add((window_key, level))
        return row if inserted else None

    def _project(self, spent: Decimal, now: datetime) -> Forecast:
        month = self.budget.calendar.month_key(now)
        span = self.budget.calendar.span(month)
        return project_month(
            month,
            spent,
            self.budget.limits.monthly_eur_cap,
            span.start,
            span.end,
            now,
            self.budget.config.alerts.forecast_min_elapsed_hours,
        )

    def _fire(
        self,
        key: str,
        level: str,
        spent: Decimal,
        cap: Decimal,
        correlation_id: str | None,
        now: datetime,
    ) -> None:
        if (key, level) in self._seen:
            return
        self.trigger(
            key,
            level,
            spent_eur=spent,
            cap_eur=cap,
            message=None,
            correlation_id=correlation_id,
            details=None,
            now=now,
        )

    def _fire_forecast(
        self, projection: Forecast, correlation_id: str | None, now: datetime
    ) -> None:
        breach = projection.projected_breach_at
        self.trigger(
            projection.month_key,
            "forecast",
            spent_eur=projection.spent_eur,
            cap_eur=projection.cap_eur,
            message=(
                f"{projection.month_key}: run rate {projection.rate_eur_per_hour} EUR/h projects "
                f"{projection.projected_month_end_eur} EUR by month end (cap {projection.cap_eur});"
                f" breach projected at {breach.isoformat() if breach else 'never'}"
            ),
            correlation_id=correlation_id,
            details={
                "projected_breach_at": breach.isoformat() if breach else None,
                "projected_month_end_eur": str(projection.projected_month_end_eur),
                "rate_eur_per_hour": str(projection.rate_eur_per_hour),
            },
            now=now,
        )
