"""Compressed time for the dispatcher: every duration of the config times one factor.

A run that must show what the shipped retry schedule, circuit breaker and timeouts do, without
waiting minutes of backoff, runs the dispatcher with ``time_scale`` below 1: the backoff base
and cap, the longest ``Retry-After`` honoured, the circuit's open time, the lease, the poll
interval and each destination's timeout are multiplied by it, and so is a receiver's
``Retry-After`` when it arrives. Counts (attempts, failure threshold, batch size, workers) are
left alone, so the schedule is the shipped one, only faster.
"""

from __future__ import annotations

from agent_platform.errors import InvalidInputError
from agent_platform.schemas.notifications import NotificationsConfig

__all__ = ["check_time_scale", "scale_config"]


def check_time_scale(factor: float) -> float:
    """``factor`` if it is within (0, 1]; else an :class:`InvalidInputError`."""
    if isinstance(factor, bool) or not 0.0 < float(factor) <= 1.0:
        raise InvalidInputError(f"time_scale: got {factor!r}; allowed: a number in (0, 1]")
    return float(factor)


def scale_config(config: NotificationsConfig, factor: float) -> NotificationsConfig:
    """``config`` with every duration multiplied by ``factor`` (counts unchanged)."""
    f = check_time_scale(factor)
    retry = config.retry.model_copy(
        update={
            "base_s": config.retry.base_s * f,
            "cap_s": config.retry.cap_s * f,
            "retry_after_max_s": config.retry.retry_after_max_s * f,
        }
    )
    circuit = config.circuit.model_copy(update={"open_s": config.circuit.open_s * f})
    dispatcher = config.dispatcher.model_copy(
        update={
            "lease_s": config.dispatcher.lease_s * f,
            "poll_interval_s": config.dispatcher.poll_interval_s * f,
        }
    )
    destinations = [
        d.model_copy(update={"timeout_s": d.timeout_s * f}) for d in config.destinations
    ]
    return config.model_copy(
        update={
            "retry": retry,
            "circuit": circuit,
            "dispatcher": dispatcher,
            "destinations": destinations,
        }
    )
