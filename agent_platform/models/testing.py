"""Helpers for tests and benchmarks of the router (shipped so other packages' tests can use them).

Config variants with short timeouts and delays, an event sink that records what it was given,
and a sleep that records instead of waiting.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import Connection

from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["RecordingSink", "RecordingSleep", "tuned_finops", "tuned_routing"]


def tuned_routing(routing: RoutingConfig, **failover: Any) -> RoutingConfig:
    """``routing`` with the failover settings in ``failover`` replaced (validated again)."""
    data = routing.model_dump()
    data["failover"].update(failover)
    return RoutingConfig.model_validate(data)


def tuned_finops(finops: FinOpsConfig, **changes: Any) -> FinOpsConfig:
    """``finops`` with top-level keys replaced and, via ``phase_1={...}``-style keys, a phase's
    caps (validated again)."""
    data = finops.model_dump()
    for key, value in changes.items():
        if key.startswith("phase_"):
            data["phases"][int(key.removeprefix("phase_"))].update(value)
        else:
            data[key] = value
    return FinOpsConfig.model_validate(data)


class RecordingSink:
    """An :class:`~agent_platform.events.EventSink` that keeps every event it is handed."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        with self._lock:
            self.events.append(
                {"event_type": event_type, "payload": payload, "correlation_id": correlation_id}
            )
            return f"recorded-{len(self.events)}"


class RecordingSleep:
    """An async sleep that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
