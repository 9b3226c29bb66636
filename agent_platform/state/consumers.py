"""Ledger consumers that ship with the platform, for ``agent-platform ledger replay``.

:class:`StateProjection` rebuilds session state from the ledger: it folds ``state.saved``
(``{"session_id": ..., "payload": ...}``) and ``state.deleted`` (``{"session_id": ...}``)
events into a :class:`~agent_platform.state.repository.StateRepository`. Saves and deletes are
idempotent, which is what the ledger's at-least-once replay asks of a handler. Other event
types are counted and left alone. :class:`EventCounter` only counts events by type.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent_platform.errors import LedgerError
from agent_platform.state.ledger_replay import LedgerEntry
from agent_platform.state.repository import StateRepository

__all__ = ["STATE_DELETED", "STATE_SAVED", "EventCounter", "StateProjection"]

STATE_SAVED = "state.saved"
STATE_DELETED = "state.deleted"


class EventCounter:
    """Counts replayed entries per event type."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, entry: LedgerEntry) -> None:
        self.counts[entry.event_type] += 1


class StateProjection:
    """Applies ``state.*`` events to a state repository (idempotently)."""

    def __init__(self, repository: StateRepository) -> None:
        self._repository = repository
        self.saved = 0
        self.deleted = 0
        self.ignored = 0

    def __call__(self, entry: LedgerEntry) -> None:
        if entry.event_type not in (STATE_SAVED, STATE_DELETED):
            self.ignored += 1
            return
        data = entry.data()
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str):
            raise LedgerError(f"ledger entry seq {entry.seq}: {entry.event_type} has no session_id")
        if entry.event_type == STATE_SAVED:
            self._repository.save(session_id, data.get("payload"))
            self.saved += 1
        else:
            self._repository.delete(session_id)
            self.deleted += 1

    def summary(self) -> dict[str, Any]:
        return {"saved": self.saved, "deleted": self.deleted, "ignored": self.ignored}
