"""Compressed time: every duration of the config scaled, every count left as configured."""

from __future__ import annotations

import pytest

from agent_platform.errors import InvalidInputError
from agent_platform.notifications import load_notifications_config
from agent_platform.notifications.timescale import scale_config


def test_durations_scale_and_counts_stay() -> None:
    shipped = load_notifications_config()
    fast = scale_config(shipped, 0.05)
    assert fast.retry.base_s == pytest.approx(shipped.retry.base_s * 0.05)
    assert fast.retry.cap_s == pytest.approx(shipped.retry.cap_s * 0.05)
    assert fast.retry.retry_after_max_s == pytest.approx(shipped.retry.retry_after_max_s * 0.05)
    assert fast.circuit.open_s == pytest.approx(shipped.circuit.open_s * 0.05)
    assert fast.dispatcher.lease_s == pytest.approx(shipped.dispatcher.lease_s * 0.05)
    assert fast.dispatcher.poll_interval_s == pytest.approx(
        shipped.dispatcher.poll_interval_s * 0.05
    )
    for before, after in zip(shipped.destinations, fast.destinations, strict=True):
        assert after.timeout_s == pytest.approx(before.timeout_s * 0.05)
        assert after.name == before.name
    assert fast.retry.max_attempts == shipped.retry.max_attempts
    assert fast.circuit.failure_threshold == shipped.circuit.failure_threshold
    assert fast.dispatcher.batch_size == shipped.dispatcher.batch_size
    assert fast.dispatcher.max_workers == shipped.dispatcher.max_workers


@pytest.mark.parametrize("factor", [0.0, -1.0, 1.5, True])
def test_a_factor_outside_zero_to_one_is_refused(factor: float) -> None:
    with pytest.raises(InvalidInputError, match="time_scale"):
        scale_config(load_notifications_config(), factor)
