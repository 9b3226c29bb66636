"""Recent agent runs, read from their ledgers: for ``agent-platform runs list``.

Every run writes one ledger, ``run:<run_id>`` (see :mod:`agent_platform.orchestration.recorder`),
so the runs of a database are its ``run:`` ledgers: ``run_started`` holds the task, and
``run_finished`` the decision and the cost. A run without ``run_finished`` is ``paused``
(stopped at a breakpoint, or cut short); its duration runs to its last entry. Duration is the
time between the first and the last entry of the ledger, as the database stamped them, so a
paused-then-resumed run counts its pause too (``resumed`` says how often that happened).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform._dberror import storage_error
from agent_platform.orchestration.recorder import ledger_name
from agent_platform.state.tables import ledger_entries

__all__ = ["RunSummary", "recent_runs"]

_PREFIX = ledger_name("")
_EVENTS = ("run_started", "run_finished", "run_resumed")


@dataclass(frozen=True)
class RunSummary:
    """One agent run as ``runs list`` shows it."""

    run_id: str
    task: str
    outcome: str
    cost_eur: float | None
    started_at: datetime | None
    duration_s: float | None
    entries: int
    resumed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task": self.task,
            "outcome": self.outcome,
            "cost_eur": self.cost_eur,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "duration_s": self.duration_s,
            "entries": self.entries,
            "resumed": self.resumed,
        }


def _latest_ledgers(engine: Engine, limit: int) -> list[tuple[str, int, datetime, datetime]]:
    """(ledger, entries, first entry time, last entry time) of the ``limit`` newest runs."""
    c = ledger_entries.c
    query = (
        sa.select(c.ledger, sa.func.count(), sa.func.min(c.created_at), sa.func.max(c.created_at))
        .where(c.ledger.like(f"{_PREFIX}%"))
        .group_by(c.ledger)
        .order_by(sa.func.min(c.created_at).desc(), c.ledger)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(r[0], int(r[1]), r[2], r[3]) for r in conn.execute(query)]


def _events(engine: Engine, ledgers: list[str]) -> dict[str, list[tuple[str, Any]]]:
    c = ledger_entries.c
    query = (
        sa.select(c.ledger, c.event_type, c.payload)
        .where(c.ledger.in_(ledgers), c.event_type.in_(_EVENTS))
        .order_by(c.ledger, c.seq)
    )
    out: dict[str, list[tuple[str, Any]]] = {name: [] for name in ledgers}
    with engine.connect() as conn:
        for ledger, kind, payload in conn.execute(query):
            out[ledger].append((kind, json.loads(payload)))
    return out


def _outcome(finished: dict[str, Any] | None) -> str:
    if finished is None:
        return "paused"
    decision = finished.get("decision") or {}
    return "approved" if decision.get("approved") else "rejected"


def _summary(row: tuple[str, int, datetime, datetime], events: list[tuple[str, Any]]) -> RunSummary:
    ledger, count, first, last = row
    started: dict[str, Any] = next((p for k, p in events if k == "run_started"), {})
    finished = next((p for k, p in reversed(events) if k == "run_finished"), None)
    task = (started.get("task") or {}).get("title") or "-"
    cost = finished.get("cost_eur") if finished else None
    return RunSummary(
        run_id=ledger[len(_PREFIX) :],
        task=str(task),
        outcome=_outcome(finished),
        cost_eur=float(cost) if cost is not None else None,
        started_at=first,
        duration_s=round((last - first).total_seconds(), 3) if first and last else None,
        entries=count,
        resumed=sum(1 for k, _ in events if k == "run_resumed"),
    )


def recent_runs(engine: Engine, limit: int = 20) -> list[RunSummary]:
    """The ``limit`` most recently started agent runs, newest first."""
    try:
        rows = _latest_ledgers(engine, limit)
        events = _events(engine, [r[0] for r in rows])
    except sa.exc.SQLAlchemyError as exc:
        raise storage_error("listing agent runs", exc) from exc
    return [_summary(row, events[row[0]]) for row in rows]
