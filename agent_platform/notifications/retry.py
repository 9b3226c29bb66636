"""Retry decisions, free of I/O: full-jitter exponential backoff, Retry-After, giving up.

Attempt ``n`` (1-based) that failed transiently waits ``U(0, min(cap, base * 2**(n-1)))``
(AWS's "full jitter"), but never less than the receiver's ``Retry-After``; after
``max_attempts`` attempts the row fails for good.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent_platform.notifications.outbox import OutboxStatus
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.schemas.notifications import RetryConfig

__all__ = ["AttemptStatus", "Decision", "backoff_s", "decide"]


class AttemptStatus:
    """Values of ``delivery_attempts.status`` (the delivery log's ``status`` column)."""

    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed transiently; another attempt is scheduled
    FAILED = "failed"  # failed permanently, or the last allowed attempt failed
    GONE = "gone"  # 410: the destination is now disabled
    REFUSED = "refused"  # the SSRF policy refused the address


@dataclass(frozen=True)
class Decision:
    attempt_status: str
    row_status: str
    next_attempt_at: datetime | None


def backoff_s(attempt: int, config: RetryConfig, rng: random.Random) -> float:
    """The full-jitter delay after failed attempt ``attempt`` (1-based)."""
    ceiling = min(config.cap_s, config.base_s * (2 ** max(0, attempt - 1)))
    return rng.uniform(0.0, ceiling)


def decide(
    outcome: AttemptOutcome,
    attempt: int,
    finished_at: datetime,
    config: RetryConfig,
    rng: random.Random,
) -> Decision:
    """What attempt ``attempt`` ending in ``outcome`` means for the log and for the row."""
    if outcome.kind is OutcomeKind.DELIVERED:
        return Decision(AttemptStatus.DELIVERED, OutboxStatus.DELIVERED, None)
    if outcome.kind is OutcomeKind.GONE:
        return Decision(AttemptStatus.GONE, OutboxStatus.DISABLED, None)
    if outcome.kind is OutcomeKind.REFUSED:
        return Decision(AttemptStatus.REFUSED, OutboxStatus.FAILED, None)
    if outcome.kind in (OutcomeKind.FAILED, OutcomeKind.INVALID) or attempt >= config.max_attempts:
        return Decision(AttemptStatus.FAILED, OutboxStatus.FAILED, None)
    delay = backoff_s(attempt, config, rng)
    if outcome.retry_after_s is not None:
        delay = max(delay, min(outcome.retry_after_s, config.retry_after_max_s))
    return Decision(
        AttemptStatus.RETRYING, OutboxStatus.PENDING, finished_at + timedelta(seconds=delay)
    )
