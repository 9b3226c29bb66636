"""FinOps evidence: the daily budget report and the alerts the budget raised.

- ``metrics/cost/budget_report.csv``: one row per simulated day of the replayed month; the
  spend columns are read back from the real :class:`FinOpsBudget`, the caps from the policy;
  ``over_reserve`` and ``under_reserve`` count the day's commits whose real cost was above or
  below what the request had held; ``over_near_cap`` those above their hold whose reservation
  left less than one more such hold free under the daily or monthly cap, and ``past_cap`` the
  commits that took a window's committed spend past its cap (the replay's own count, which the
  store's window table below must agree with).
- ``metrics/cost/budget_windows.csv``: every daily and monthly window of the month as the
  budget store holds it after the replay (committed and still-reserved EUR) against the
  policy's cap. ``budget_breaches`` is the number of windows whose committed spend exceeds
  the cap (by more than half a cent), so it counts what the store says was spent, not what the
  replay believes it allowed.
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
    "WINDOW_COLUMNS",
    "AlertRow",
    "BudgetDay",
    "BudgetWindow",
    "alert_figures",
    "consistency",
    "lead_time_label",
    "report_caps",
    "report_figures",
    "window_consistency",
    "window_figures",
    "windows_path",
    "write_alerts",
    "write_report",
    "write_windows",
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
    "over_reserve",
    "under_reserve",
    "over_near_cap",
    "past_cap",
)
WINDOW_COLUMNS = ("window", "kind", "cap_eur", "committed_eur", "reserved_eur", "breached")
WINDOWS_FILE = "budget_windows.csv"
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
    over_reserve: int = 0
    under_reserve: int = 0
    over_near_cap: int = 0
    past_cap: int = 0


@dataclass(frozen=True)
class BudgetWindow:
    """One money window as the budget store holds it, against the policy's cap."""

    window: str
    cap_eur: float
    committed_eur: float
    reserved_eur: float

    @property
    def breached(self) -> bool:
        return self.committed_eur > self.cap_eur + EPSILON_EUR


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
                "over_reserve": d.over_reserve,
                "under_reserve": d.under_reserve,
                "over_near_cap": d.over_near_cap,
                "past_cap": d.past_cap,
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


def write_windows(path: Path, windows: Sequence[BudgetWindow]) -> int:
    return write_csv(
        path,
        WINDOW_COLUMNS,
        (
            {
                "window": w.window,
                "kind": w.window.split(":", 1)[0],
                "cap_eur": _eur(w.cap_eur),
                "committed_eur": f"{w.committed_eur:.6f}",
                "reserved_eur": f"{w.reserved_eur:.6f}",
                "breached": w.breached,
            }
            for w in windows
        ),
    )


def windows_path(report: Path) -> Path:
    """The window table written beside ``report`` (both live in ``metrics/cost/``)."""
    return report.with_name(WINDOWS_FILE)


def _windows(path: Path) -> list[BudgetWindow]:
    return [
        _windows_row(path, line, row)
        for line, row in enumerate(read_csv(path, WINDOW_COLUMNS), start=2)
    ]


def window_figures(path: Path) -> dict[str, float | int | str]:
    """Breaches per window kind, recomputed from committed and cap (never from ``breached``);
    ``NOT_MEASURED`` when the table is absent or empty."""
    windows = _windows(path) if path.exists() else []
    if not windows:
        return {"budget_breaches": NOT_MEASURED, "budget_windows": 0}
    days = [w for w in windows if w.window.startswith("day:")]
    months = [w for w in windows if w.window.startswith("month:")]
    worst = max((w.committed_eur - w.cap_eur for w in windows), default=0.0)
    return {
        "budget_breaches": sum(w.breached for w in windows),
        "budget_windows": len(windows),
        "daily_breaches": sum(w.breached for w in days),
        "monthly_breaches": sum(w.breached for w in months),
        "worst_overrun_eur": round(max(worst, 0.0), 6),
        "reserved_left_eur": round(sum(w.reserved_eur for w in windows), 6),
    }


def window_consistency(path: Path) -> list[str]:
    """The stated ``breached`` flag of each window must follow from committed and cap."""
    problems: list[str] = []
    if not path.exists():
        return problems
    for line, row in enumerate(read_csv(path, WINDOW_COLUMNS), start=2):
        window = _windows_row(path, line, row)
        if row["breached"] != str(window.breached).lower():
            problems.append(
                f"{path.name}: row {line}: breached={row['breached']} but committed "
                f"{window.committed_eur} vs cap {window.cap_eur} says {window.breached}"
            )
    return problems


def _windows_row(path: Path, line: int, row: dict[str, str]) -> BudgetWindow:
    return BudgetWindow(
        row["window"],
        parse_float(path, line, "cap_eur", row["cap_eur"]),
        parse_float(path, line, "committed_eur", row["committed_eur"]),
        parse_float(path, line, "reserved_eur", row["reserved_eur"]),
    )


def report_figures(path: Path) -> dict[str, float | int | str]:
    """Days covered, total spend, rejected requests, commits above and below their hold, and
    the breaches of the window table beside the report (see :func:`window_figures`)."""
    rows = read_csv(path, REPORT_COLUMNS)
    out = window_figures(windows_path(path))
    if not rows:
        return {**out, "days_replayed": 0}
    last = rows[-1]

    def total(column: str) -> int:
        return sum(parse_int(path, i, column, r[column]) for i, r in enumerate(rows, 2))

    return {
        **out,
        "commits_over_reserve": total("over_reserve"),
        "commits_under_reserve": total("under_reserve"),
        "commits_over_near_cap": total("over_near_cap"),
        "commits_past_cap": total("past_cap"),
        "commits": total("requests") - total("rejected"),
        "days_replayed": len(rows),
        "month_spend_eur": parse_float(
            path, len(rows) + 1, "monthly_spend_eur", last["monthly_spend_eur"]
        ),
        "requests_rejected": total("rejected"),
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
    """Month-to-date spend must be the running sum of the daily spend (within a cent), and the
    window table beside the report must state its breaches as they follow from its numbers."""
    problems = window_consistency(windows_path(path))
    running = 0.0
    for line, row in enumerate(read_csv(path, REPORT_COLUMNS), start=2):
        running += parse_float(path, line, "daily_spend_eur", row["daily_spend_eur"])
        stated = parse_float(path, line, "monthly_spend_eur", row["monthly_spend_eur"])
        if abs(running - stated) > 0.011 * (line - 1):
            problems.append(
                f"{path.name}: row {line}: monthly_spend_eur={stated} but days sum to {running:.2f}"
            )
    return problems
