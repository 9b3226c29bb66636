"""The hindsight yardstick of routing accuracy: which provider was best, by observed outcome.

The router scores providers with its own weights and priors (``configs/model_routing.yaml``);
judging it with that same formula would only check the formula against itself. Hindsight
instead looks at what really happened when the same request went to every eligible provider,
ranked lexicographically:

1. the call succeeded (an answer came back);
2. the provider meets the task's quality floor (``min_accuracy``: a policy of the routing
   config, the only quality information the simulator cannot show; below-floor providers are
   the best only when no provider at or above the floor answered);
3. within that tier, the highest outcome score::

       score = w_latency * (fastest latency / latency) + w_cost * (cheapest cost / cost)

   latency is what the provider took for this request, cost the EUR price of the usage it
   reported; each term is 1 for the best provider on it (0/0 counts as 1).

The router's pick counts as correct when it is in the best tier and its score is within
``tie_tolerance`` of the best score, or when it picked nobody and nobody answered. The weights
and the tolerance live in ``configs/routing_hindsight.yaml``; nothing here reads the router's
weights. The workload and the gate's reader both judge through :func:`judge`, so the figure
recomputes from the per-provider observations the CSV records (:func:`format_observations`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_platform.config import load_yaml_model, project_root

__all__ = [
    "HINDSIGHT_CONFIG",
    "HindsightConfig",
    "HindsightWeights",
    "Observation",
    "Verdict",
    "format_observations",
    "judge",
    "load_hindsight",
    "parse_observations",
]

HINDSIGHT_CONFIG = "configs/routing_hindsight.yaml"
_OK, _FAILED, _FLOOR, _BELOW = "ok", "failed", "floor", "below"


class HindsightWeights(BaseModel):
    """How much latency and cost count among the providers that answered (sum 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: float = Field(ge=0, le=1)
    cost: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> HindsightWeights:
        if abs(self.latency + self.cost - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1.0 (got {self.latency + self.cost:g})")
        return self


class HindsightConfig(BaseModel):
    """``configs/routing_hindsight.yaml``: the yardstick's weights and its tie tolerance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: HindsightWeights
    tie_tolerance: float = Field(ge=0, le=0.5)


def load_hindsight(path: Path | None = None) -> HindsightConfig:
    """Load the yardstick (default: the project's ``configs/routing_hindsight.yaml``)."""
    return load_yaml_model(path or project_root() / HINDSIGHT_CONFIG, HindsightConfig)


@dataclass(frozen=True)
class Observation:
    """What one provider did with the request: answered or not, how fast, at what price."""

    provider: str
    succeeded: bool
    latency_ms: float
    cost_eur: float
    meets_floor: bool


@dataclass(frozen=True)
class Verdict:
    """The hindsight-best provider (None: nobody answered), every scored provider's score and
    whether the router's pick counts as correct."""

    best: str | None
    scores: dict[str, float]
    correct: bool


def _ratio(best: float, value: float) -> float:
    if value <= 0.0:
        return 1.0
    return best / value


def _scores(candidates: Sequence[Observation], config: HindsightConfig) -> dict[str, float]:
    fastest = min(o.latency_ms for o in candidates)
    cheapest = min(o.cost_eur for o in candidates)
    w = config.weights
    return {
        o.provider: w.latency * _ratio(fastest, o.latency_ms)
        + w.cost * _ratio(cheapest, o.cost_eur)
        for o in candidates
    }


def judge(
    observations: Sequence[Observation], pick: str | None, config: HindsightConfig
) -> Verdict:
    """The best provider by observed outcome, and whether ``pick`` was (within tolerance) it."""
    answered = [o for o in observations if o.succeeded]
    tier = [o for o in answered if o.meets_floor] or answered
    if not tier:
        return Verdict(None, {}, pick is None)
    scores = _scores(tier, config)
    best = max(sorted(scores), key=lambda name: scores[name])
    picked = scores.get(pick) if pick is not None else None
    correct = picked is not None and picked >= scores[best] - config.tie_tolerance - 1e-12
    return Verdict(best, scores, correct)


def format_observations(observations: Sequence[Observation]) -> str:
    """One CSV cell: ``provider:ok|failed:latency_ms:cost_eur:floor|below`` joined by ``;``."""
    return ";".join(
        f"{o.provider}:{_OK if o.succeeded else _FAILED}:{o.latency_ms:.4f}:"
        f"{o.cost_eur:.8f}:{_FLOOR if o.meets_floor else _BELOW}"
        for o in observations
    )


def parse_observations(cell: str) -> list[Observation]:
    """The observations of a :func:`format_observations` cell; ValueError when malformed."""
    out = []
    for part in cell.split(";") if cell else []:
        fields = part.split(":")
        if len(fields) != 5 or fields[1] not in (_OK, _FAILED) or fields[4] not in (_FLOOR, _BELOW):
            raise ValueError(f"observation {part!r} is not provider:ok|failed:ms:eur:floor|below")
        try:
            latency, cost = float(fields[2]), float(fields[3])
        except ValueError:
            latency = cost = math.nan
        if not (math.isfinite(latency) and math.isfinite(cost) and latency >= 0 and cost >= 0):
            raise ValueError(f"observation {part!r}: latency and cost must be numbers >= 0")
        out.append(Observation(fields[0], fields[1] == _OK, latency, cost, fields[4] == _FLOOR))
    return out
