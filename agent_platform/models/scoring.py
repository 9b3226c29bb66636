"""The routing score: cost, latency and accuracy, weighted as ``configs/model_routing.yaml`` says.

For the eligible candidates of one request::

    score = w_cost     * (1 - cost / max cost)          (1 when every candidate is free)
          + w_latency  * (1 - latency / max latency)
          + w_accuracy * accuracy prior of the provider for the task

cost is the request's estimated EUR (see :mod:`agent_platform.finops.pricing`); latency is
``max(base_latency_ms, median of the provider's last observed latencies)``: the configured base
is the floor, observations only raise it when the provider is slower than configured. Ties
(within 1e-9) go to the task's preferred provider, then its fallback, then the name order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent_platform.schemas.routing import Weights

__all__ = ["Candidate", "Scored", "rank"]

_TIE = 1e-9


@dataclass(frozen=True)
class Candidate:
    """The inputs of one provider's score."""

    provider: str
    model: str
    cost_eur: Decimal
    latency_ms: float
    accuracy: float


@dataclass(frozen=True)
class Scored:
    """A candidate with its score and the three terms that made it."""

    candidate: Candidate
    score: float
    cost_term: float
    latency_term: float
    accuracy_term: float

    @property
    def provider(self) -> str:
        return self.candidate.provider


def rank(
    weights: Weights, candidates: Sequence[Candidate], tie_order: Sequence[str]
) -> list[Scored]:
    """Score ``candidates`` and sort them best first."""
    if not candidates:
        return []
    max_cost = max(c.cost_eur for c in candidates)
    max_latency = max(c.latency_ms for c in candidates)
    scored = []
    for c in candidates:
        cost = 1.0 - float(c.cost_eur / max_cost) if max_cost > 0 else 1.0
        latency = 1.0 - c.latency_ms / max_latency if max_latency > 0 else 1.0
        terms = (weights.cost * cost, weights.latency * latency, weights.accuracy * c.accuracy)
        scored.append(Scored(c, sum(terms), *terms))
    priority = {name: index for index, name in enumerate(tie_order)}

    def key(item: Scored) -> tuple[float, int, str]:
        bucket = round(item.score / _TIE) * _TIE
        return (-bucket, priority.get(item.provider, len(priority)), item.provider)

    return sorted(scored, key=key)
