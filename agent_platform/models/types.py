"""Value types the router returns; the graph nodes and the evidence job consume them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["Attempt", "RouteResult"]


@dataclass(frozen=True)
class Attempt:
    """One provider call made while serving a request (successful or not)."""

    provider: str
    model: str
    outcome: str
    latency_ms: float
    cost_eur: float
    correlation_id: str
    error: str | None = None
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "cost_eur": self.cost_eur,
            "correlation_id": self.correlation_id,
            "error": self.error,
            "http_status": self.http_status,
        }


@dataclass(frozen=True)
class RouteResult:
    """The answer to one routed request, with everything needed to audit and bill it.

    ``cost_eur`` is ``float(cost_eur_exact)``, the Decimal the budget was charged;
    ``decided_provider`` is the decision's first choice (``failover`` is True when another
    provider served); ``latency_ms`` covers the whole routed call, ``decision_ms`` the decision.
    """

    content: str
    provider: str
    model: str
    task: str
    cost_eur: float
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    decision_ms: float
    correlation_id: str
    simulated: bool
    failover: bool = False
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    cost_eur_exact: Decimal = Decimal(0)
    decided_provider: str | None = None
