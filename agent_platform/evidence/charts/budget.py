"""Budget burn over the replayed month, against the daily and monthly caps, alerts marked.

Top panel: month-to-date spend at the end of each replayed day (read from
``budget_report.csv``) with the monthly cap as a step line (caps can change by policy phase);
every alert of ``budget_alerts.csv`` is a vertical line at its simulated time, labelled with
its kind. Bottom panel: each day's spend as a bar against the daily cap, with the day's
refused requests written above it when there were any.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.charts._canvas import PALETTE, new_figure, save_png
from agent_platform.evidence.charts._read import rows_of
from agent_platform.evidence.csvio import parse_float, parse_int

__all__ = ["draw_budget"]

_DAY_COLUMNS = ("date", "daily_spend_eur", "daily_cap_eur", "monthly_spend_eur", "monthly_cap_eur")
_ALERT_COLUMNS = ("timestamp", "kind")
_ALERT_COLOURS = {"forecast": PALETTE[4], "threshold_80": PALETTE[1], "threshold_100": PALETTE[3]}


def _moment(path: Path, raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise EvidenceError(f"{path}: {raw!r} is not an ISO 8601 date or time") from exc


def _days(path: Path) -> dict[str, list[Any]]:
    rows = rows_of(path, _DAY_COLUMNS)
    if not rows:
        raise EvidenceError(f"{path}: no replayed days to draw")
    out: dict[str, list[Any]] = {k: [] for k in ("start", *_DAY_COLUMNS[1:], "rejected")}
    for line, row in enumerate(rows, start=2):
        out["start"].append(_moment(path, row["date"]))
        for column in _DAY_COLUMNS[1:]:
            out[column].append(parse_float(path, line, column, row[column]))
        raw = row.get("rejected", "")
        out["rejected"].append(parse_int(path, line, "rejected", raw) if raw else 0)
    return out


def _month_panel(axis: Any, days: dict[str, list[Any]], alerts: list[tuple[datetime, str]]) -> None:
    ends = [start + timedelta(days=1) for start in days["start"]]
    axis.plot(
        ends,
        days["monthly_spend_eur"],
        marker="o",
        ms=3,
        color=PALETTE[0],
        label="month-to-date spend (end of day)",
    )
    axis.step(
        ends, days["monthly_cap_eur"], where="pre", color=PALETTE[3], ls="--", label="monthly cap"
    )
    for number, (moment, kind) in enumerate(alerts):
        colour = _ALERT_COLOURS.get(kind, PALETTE[7])
        axis.axvline(
            moment,
            color=colour,
            lw=1.4,
            alpha=0.85,
            ls=("-", ":")[number % 2],
            label=f"alert {kind} at {moment:%d %b %H:%M}",
        )
    axis.set_ylabel("EUR")
    axis.set_title("Month-to-date spend against the monthly cap; alerts at their simulated time")
    axis.legend(loc="lower right", fontsize=8)
    axis.grid(alpha=0.3)


def _day_panel(axis: Any, days: dict[str, list[Any]]) -> None:
    centres = [start + timedelta(hours=12) for start in days["start"]]
    axis.bar(
        centres,
        days["daily_spend_eur"],
        width=0.8,
        color=PALETTE[0],
        alpha=0.7,
        label="daily spend",
    )
    edges = [*days["start"], days["start"][-1] + timedelta(days=1)]
    axis.stairs(
        days["daily_cap_eur"], edges, baseline=None, color=PALETTE[3], ls="--", label="daily cap"
    )
    for centre, spend, refused in zip(
        centres, days["daily_spend_eur"], days["rejected"], strict=True
    ):
        if refused:
            axis.annotate(
                str(refused),
                (centre, spend),
                ha="center",
                va="bottom",
                fontsize=7,
                color=PALETTE[3],
            )
    axis.set_ylabel("EUR")
    axis.set_title("Daily spend against the daily cap (numbers: requests refused that day)")
    axis.legend(loc="lower left", fontsize=8)
    axis.grid(alpha=0.3)


def draw_budget(report: Path, alerts_file: Path, out: Path) -> Path:
    """Draw the budget burn chart from the two FinOps files into ``out``."""
    days = _days(report)
    alerts = [
        (_moment(alerts_file, r["timestamp"]), r["kind"])
        for r in rows_of(alerts_file, _ALERT_COLUMNS)
    ]
    figure, (month, day) = new_figure(10.0, 7.5, nrows=2)
    day.sharex(month)
    _month_panel(month, days, alerts)
    _day_panel(day, days)
    figure.autofmt_xdate()
    figure.suptitle("Budget burn over the replayed month", fontweight="bold")
    return save_png(figure, out)
