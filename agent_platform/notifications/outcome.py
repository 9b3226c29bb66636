"""What one delivery attempt produced, in terms the dispatcher acts on.

Channels translate their library's results and exceptions (httpx, smtplib) into an
:class:`AttemptOutcome` at the boundary, so the dispatcher's retry, circuit and 410 logic never
imports a transport library.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AttemptOutcome", "OutcomeKind"]


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient: 5xx, 408, 429, timeout, dropped connection
    FAILED = "failed"  # permanent: other 4xx, redirect, bad recipient
    GONE = "gone"  # 410: the destination is disabled
    REFUSED = "refused"  # the SSRF policy refused the address
    INVALID = "invalid"  # the stored row itself cannot be sent (e.g. its payload is corrupt)


@dataclass(frozen=True)
class AttemptOutcome:
    """The result of one attempt; ``error`` never holds a secret (channels redact it)."""

    kind: OutcomeKind
    http_status: int | None = None
    retry_after_s: float | None = None
    error: str | None = None

    @property
    def is_failure(self) -> bool:
        """A failure counts against the destination's circuit (410, refusals, invalid rows do not)."""
        return self.kind in (OutcomeKind.RETRY, OutcomeKind.FAILED)
