"""``metrics/cost/budget_concurrency.csv``: concurrent reservations on a nearly exhausted budget.

One ``reservation`` row per worker: the money window that binds (the day), what the window had
spent before the burst, its cap, the amount the worker tried to hold and whether the store held
or refused it. One ``store`` row: committed plus reserved of that window read back from the
budget store after every worker finished. A **breach** is the window ending above its cap,
counted both from the rows (spent before + every amount held) and from the store's own total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.csvio import parse_float, read_csv, write_csv
from agent_platform.evidence.formats import NOT_MEASURED

__all__ = ["COLUMNS", "ReservationAttempt", "consistency", "figures", "write"]

COLUMNS = (
    "timestamp",
    "kind",
    "worker",
    "window_key",
    "outcome",
    "amount_eur",
    "spent_before_eur",
    "cap_eur",
    "error",
)
EPSILON_EUR = 0.000001


@dataclass(frozen=True)
class ReservationAttempt:
    """One worker's reservation during the burst (``outcome`` is ``held`` or ``refused``)."""

    timestamp: str
    worker: int
    window_key: str
    outcome: str
    amount_eur: float
    spent_before_eur: float
    cap_eur: float
    error: str = ""


def _eur(value: float) -> str:
    return f"{value:.6f}"


def write(
    path: Path, attempts: Sequence[ReservationAttempt], store_total_eur: float, finished_at: str
) -> int:
    """Write one row per attempt and the store's read-back total; returns the row count."""
    rows: list[dict[str, object]] = [
        {
            "timestamp": a.timestamp,
            "kind": "reservation",
            "worker": a.worker,
            "window_key": a.window_key,
            "outcome": a.outcome,
            "amount_eur": _eur(a.amount_eur),
            "spent_before_eur": _eur(a.spent_before_eur),
            "cap_eur": _eur(a.cap_eur),
            "error": a.error,
        }
        for a in attempts
    ]
    if attempts:
        rows.append(
            {
                "timestamp": finished_at,
                "kind": "store",
                "window_key": attempts[0].window_key,
                "outcome": "committed_plus_reserved",
                "amount_eur": _eur(store_total_eur),
                "spent_before_eur": _eur(attempts[0].spent_before_eur),
                "cap_eur": _eur(attempts[0].cap_eur),
            }
        )
    return write_csv(path, COLUMNS, rows)


def _numbers(path: Path, line: int, row: dict[str, str]) -> tuple[float, float, float]:
    return (
        parse_float(path, line, "amount_eur", row["amount_eur"]),
        parse_float(path, line, "spent_before_eur", row["spent_before_eur"]),
        parse_float(path, line, "cap_eur", row["cap_eur"]),
    )


def figures(path: Path) -> dict[str, float | int | str]:
    """Workers, holds, refusals and breaches of the burst."""
    rows = list(enumerate(read_csv(path, COLUMNS), start=2))
    attempts = [(i, r) for i, r in rows if r["kind"] == "reservation"]
    stores = [(i, r) for i, r in rows if r["kind"] == "store"]
    if not attempts or len(stores) != 1:
        return {"concurrent_budget_breaches": NOT_MEASURED, "concurrent_reservations": 0}
    held = [(i, r) for i, r in attempts if r["outcome"] == "held"]
    _, spent, cap = _numbers(path, attempts[0][0], attempts[0][1])
    total_held = sum(_numbers(path, i, r)[0] for i, r in held)
    store_total = _numbers(path, stores[0][0], stores[0][1])[0]
    breaches = int(spent + total_held > cap + EPSILON_EUR) + int(store_total > cap + EPSILON_EUR)
    return {
        "concurrent_budget_breaches": breaches,
        "concurrent_reservations": len(attempts),
        "concurrent_held": len(held),
        "concurrent_refused": sum(r["outcome"] == "refused" for _, r in attempts),
        "concurrent_room_left_eur": round(cap - store_total, 6),
    }


def consistency(path: Path) -> list[str]:
    """The store's total must equal the spend before the burst plus every amount held."""
    rows = list(enumerate(read_csv(path, COLUMNS), start=2))
    held = sum(
        parse_float(path, i, "amount_eur", r["amount_eur"])
        for i, r in rows
        if r["kind"] == "reservation" and r["outcome"] == "held"
    )
    problems = []
    for line, row in rows:
        if row["kind"] != "store":
            continue
        total, spent, _ = _numbers(path, line, row)
        if abs(total - (spent + held)) > 0.000011 * max(1, len(rows)):
            problems.append(
                f"{path.name}: row {line}: the store holds {total:.6f} EUR but the spend before "
                f"plus the holds is {spent + held:.6f}"
            )
    return problems
