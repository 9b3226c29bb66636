"""Backoff, Retry-After and response classification, without I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from agent_platform.notifications.http_sender import classify_response, parse_retry_after
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.notifications.retry import backoff_s, decide
from agent_platform.schemas.notifications import RetryConfig

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    config = RetryConfig(max_attempts=10, base_s=0.5, cap_s=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [backoff_s(attempt, config, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range


def test_retry_after_is_a_floor_on_the_next_attempt() -> None:
    config = RetryConfig(max_attempts=5, base_s=0.01, cap_s=0.02)
    outcome = AttemptOutcome(OutcomeKind.RETRY, http_status=429, retry_after_s=7.0)
    decision = decide(outcome, 1, NOW, config, random.Random(1))
    assert decision.row_status == "pending"
    assert decision.next_attempt_at is not None
    assert decision.next_attempt_at >= NOW + timedelta(seconds=7)


def test_retry_after_is_clipped_to_the_configured_maximum() -> None:
    config = RetryConfig(max_attempts=5, base_s=0.0, cap_s=0.0, retry_after_max_s=60)
    outcome = AttemptOutcome(OutcomeKind.RETRY, http_status=503, retry_after_s=86_400)
    decision = decide(outcome, 1, NOW, config, random.Random(1))
    assert decision.next_attempt_at == NOW + timedelta(seconds=60)


def test_last_attempt_fails_for_good() -> None:
    config = RetryConfig(max_attempts=3)
    outcome = AttemptOutcome(OutcomeKind.RETRY, http_status=500)
    assert decide(outcome, 2, NOW, config, random.Random()).row_status == "pending"
    final = decide(outcome, 3, NOW, config, random.Random())
    assert (final.attempt_status, final.row_status, final.next_attempt_at) == (
        "failed",
        "failed",
        None,
    )


@pytest.mark.parametrize(
    ("kind", "attempt_status", "row_status"),
    [
        (OutcomeKind.DELIVERED, "delivered", "delivered"),
        (OutcomeKind.GONE, "gone", "disabled"),
        (OutcomeKind.REFUSED, "refused", "failed"),
        (OutcomeKind.FAILED, "failed", "failed"),
    ],
)
def test_terminal_outcomes(kind: OutcomeKind, attempt_status: str, row_status: str) -> None:
    decision = decide(AttemptOutcome(kind), 1, NOW, RetryConfig(), random.Random())
    assert (decision.attempt_status, decision.row_status) == (attempt_status, row_status)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, OutcomeKind.DELIVERED),
        (204, OutcomeKind.DELIVERED),
        (301, OutcomeKind.FAILED),
        (307, OutcomeKind.FAILED),
        (400, OutcomeKind.FAILED),
        (401, OutcomeKind.FAILED),
        (404, OutcomeKind.FAILED),
        (408, OutcomeKind.RETRY),
        (410, OutcomeKind.GONE),
        (429, OutcomeKind.RETRY),
        (500, OutcomeKind.RETRY),
        (503, OutcomeKind.RETRY),
    ],
)
def test_status_classification(status: int, kind: OutcomeKind) -> None:
    assert classify_response(status, {}).kind is kind


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Fri, 02 Jan 2026 03:04:15 GMT", now=NOW) == 10.0
    assert parse_retry_after("Fri, 02 Jan 2026 03:00:00 GMT", now=NOW) == 0.0
    outcome = classify_response(429, {"retry-after": "2"})
    assert outcome.retry_after_s == 2.0
