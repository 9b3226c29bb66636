"""A ledger entry as stored, and the name check shared by ledgers, event types and consumers.

Kept apart so the append machinery (:mod:`.append`), the readers
(:mod:`.read`) and the public :mod:`agent_platform.state.ledger_replay` agree on one entry type without
importing each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_platform.errors import InvalidInputError
from agent_platform.inputs import clip
from agent_platform.state._text import unstorable

__all__ = ["NAME_MAX", "LedgerEntry", "check_name"]

NAME_MAX = 128


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry as stored; ``payload`` is its canonical JSON text."""

    ledger: str
    seq: int
    event_type: str
    payload: str
    checksum: str
    prev_hash: str
    entry_hash: str
    created_at: datetime | None

    def data(self) -> Any:
        """The payload decoded from JSON."""
        return json.loads(self.payload)


def check_name(what: str, value: object) -> str:
    """``value`` when it is a storable str of 1..128 characters, else InvalidInputError
    naming ``what`` (lone surrogates and NUL are refused: see :mod:`agent_platform.state._text`)."""
    allowed = f"a str of 1..{NAME_MAX} characters, UTF-8 encodable, without NUL"
    if not isinstance(value, str) or not value or len(value) > NAME_MAX:
        raise InvalidInputError(f"{what}: got {clip(value)}; allowed: {allowed}")
    problem = unstorable(value)
    if problem is not None:
        raise InvalidInputError(f"{what}: got {clip(value)}, which {problem}; allowed: {allowed}")
    return value
