"""FinOps evidence: the daily budget report and the alerts the budget raised.

- ``metrics/cost/budget_report.csv``: one row per simulated day of the replayed month; the
  spend columns are read back from the real :class:`FinOpsBudget`, the caps from the policy.
  A breach is a day whose daily spend exceeds the daily cap or whose month-to-date spend
  exceeds the monthly cap.
- ``metrics/cost/budget_alerts.csv``: the monthly window's alerts as the budget persisted them
  (``forecast``, ``threshold_80``, ``threshold_100``) with their simulated timestamps (the
  forecast row also carries the breach time it projected), plus one ``cap_exhausted`` row: the
  first request the monthly cap refused in the replay.

**Alert lead time** (``alert_lead_time_hours``) is the warning the forecast alert gave before
the monthly cap started refusing work: ``cap_exhausted`` minus the first ``forecast`` alert,
in hours of simulated time (basis ``observed_refusal``). It is only ever this observed gap:
when the replay never reached the cap it is ``NOT_MEASURED``. The breach time the forecast
projected, minus the forecast's own time, is reported apart as ``projected_lead_time_hours``
(never thresholded). ``threshold_lead_time_hours`` is the observed gap from the first 80 %
threshold alert to the first cap refusal. :func:`lead_time_label` says in words what basis a
run's lead time was measured on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence.csvio import parse_float, parse_int, read_csv, write_csv
from agent_platform.evidence.formats import NOT_MEASURED

__all__ = [
    "ALERT_COLUMNS",
    "CAP_EXHAUSTED",
    "REPORT_COLUMNS",
    "AlertRow",
    "BudgetDay",
    "alert_figures",
    "consistency",
    "lead_time_label",
    "report_caps",
    "report_figures",
    "write_alerts",
    "write_report",
]

REPORT_COLUMNS = (
    "date",
    "phase",
    "daily_spend_eur",
    "daily_cap_eur",
    "monthly_spend_eur",
    "monthly_cap_eur",
    "requests",
    "rejected",
)
ALERT_COLUMNS = (
    "timestamp",
    "kind",
    "monthly_spend_eur",
    "monthly_cap_eur",
    "correlation_id",
    "projected_breach_at",
)
CAP_EXHAUSTED = "cap_exhausted"
OBSERVED_BASIS = "observed_refusal"
_LEAD_TIME_LABELS = {
    OBSERVED_BASIS: "first monthly-cap refusal minus first forecast alert (simulated hours)",
    NOT_MEASURED: "not measured: the replay never reached a monthly-cap refusal",
}
EPSILON_EUR = 0.005


@dataclass(frozen=True)
class BudgetDay:
    date: str
    phase: int
    daily_spend_eur: float
    daily_cap_eur: float
    monthly_spend_eur: float
    monthly_cap_eur: float
    requests: int
    rejected: int


@dataclass(frozen=True)
class AlertRow:
    timestamp: str
    kind: str
    monthly_spend_eur: float
    monthly_cap_eur: float
    correlation_id: str
    projected_breach_at: str = ""


def _eur(value: float) -> str:
    return f"{value:.2f}"


def write_report(path: Path, days: Sequence[BudgetDay]) -> int:
    return write_csv(
        path,
        REPORT_COLUMNS,
        (
            {
                "date": d.date,
                "phase": d.phase,
                "daily_spend_eur": _eur(d.daily_spend_eur),
                "daily_cap_eur": _eur(d.daily_cap_eur),
                "monthly_spend_eur": _eur(d.monthly_spend_eur),
                "monthly_cap_eur": _eur(d.monthly_cap_eur),
                "requests": d.requests,
                "rejected": d.rejected,
            }
            for d in days
        ),
    )


def write_alerts(path: Path, alerts: Sequence[AlertRow]) -> int:
    return write_csv(
        path,
        ALERT_COLUMNS,
        (
            {
                "timestamp": a.timestamp,
                "kind": a.kind,
                "monthly_spend_eur": _eur(a.monthly_spend_eur),
                "monthly_cap_eur": _eur(a.monthly_cap_eur),
                "correlation_id": a.correlation_id,
                "projected_breach_at": a.projected_breach_at,
            }
            for a in alerts
        ),
    )


def report_figures(path: Path) -> dict[str, float | int | str]:
    """Breaches (days over a cap), days covered, total spend and rejected requests."""
    rows = read_csv(path, REPORT_COLUMNS)
    breaches = 0
    for line, row in enumerate(rows, start=2):
        daily = parse_float(path, line, "daily_spend_eur", row["daily_spend_eur"])
        monthly = parse_float(path, line, "monthly_spend_eur", row["monthly_spend_eur"])
        if daily > parse_float(path, line, "daily_cap_eur", row["daily_cap_eur"]) + EPSILON_EUR or (
            monthly
            > parse_float(path, line, "monthly_cap_eur", row["monthly_cap_eur"]) + EPSILON_EUR
        ):
            breaches += 1
    if not rows:
        return {"budget_breaches": NOT_MEASURED, "days_replayed": 0}
    last = rows[-1]
    return {
        "budget_breaches": breaches,
        "days_replayed": len(rows),
        "month_spend_eur": parse_float(
            path, len(rows) + 1, "monthly_spend_eur", last["monthly_spend_eur"]
        ),
        "requests_rejected": sum(
            parse_int(path, i, "rejected", r["rejected"]) for i, r in enumerate(rows, 2)
        ),
    }


def report_caps(path: Path) -> set[tuple[int, float, float]]:
    """The distinct ``(phase, daily cap, monthly cap)`` triples the report states."""
    rows = read_csv(path, REPORT_COLUMNS)
    return {
        (
            parse_int(path, i, "phase", r["phase"]),
            parse_float(path, i, "daily_cap_eur", r["daily_cap_eur"]),
            parse_float(path, i, "monthly_cap_eur", r["monthly_cap_eur"]),
        )
        for i, r in enumerate(rows, start=2)
    }


def _when(path: Path, raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EvidenceError(f"{path}: timestamp {raw!r} is not ISO 8601") from exc


def _hours(later: datetime, earlier: datetime) -> float:
    return round((later - earlier).total_seconds() / 3600.0, 3)


def _gap(path: Path, later: dict[str, str] | None, earlier: dict[str, str] | None) -> float | str:
    if later is None or earlier is None:
        return NOT_MEASURED
    return _hours(_when(path, later["timestamp"]), _when(path, earlier["timestamp"]))


def alert_figures(path: Path) -> dict[str, float | int | str]:
    """Observed lead times of the forecast and 80 % alerts before the monthly cap refused.

    The forecast's projected lead time is reported apart and never stands in for the
    observed one.
    """
    rows = read_csv(path, ALERT_COLUMNS)
    first: dict[str, dict[str, str]] = {}
    for row in sorted(rows, key=lambda r: _when(path, r["timestamp"])):
        first.setdefault(row["kind"], row)
    forecast, exhausted = first.get("forecast"), first.get(CAP_EXHAUSTED)
    lead = _gap(path, exhausted, forecast)
    projected: float | str = NOT_MEASURED
    if forecast is not None and forecast["projected_breach_at"]:
        projected = _hours(
            _when(path, forecast["projected_breach_at"]), _when(path, forecast["timestamp"])
        )
    return {
        "alert_lead_time_hours": lead,
        "alert_lead_time_basis": NOT_MEASURED if lead == NOT_MEASURED else OBSERVED_BASIS,
        "projected_lead_time_hours": projected,
        "threshold_lead_time_hours": _gap(path, exhausted, first.get("threshold_80")),
        "alerts_raised": sum(r["kind"] != CAP_EXHAUSTED for r in rows),
        "forecast_alerts": sum(r["kind"] == "forecast" for r in rows),
    }


def lead_time_label(basis: float | int | str) -> str:
    """What the run's ``alert_lead_time_hours`` measured, in words, from its basis."""
    return _LEAD_TIME_LABELS.get(str(basis), f"unknown basis {basis!r}")


def consistency(path: Path) -> list[str]:
    """Month-to-date spend must be the running sum of the daily spend (within a cent)."""
    problems = []
    running = 0.0
    for line, row in enumerate(read_csv(path, REPORT_COLUMNS), start=2):
        running += parse_float(path, line, "daily_spend_eur", row["daily_spend_eur"])
        stated = parse_float(path, line, "monthly_spend_eur", row["monthly_spend_eur"])
        if abs(running - stated) > 0.011 * (line - 1):
            problems.append(
                f"{path.name}: row {line}: monthly_spend_eur={stated} but days sum to {running:.2f}"
            )
    return problems
