"""Settings of the router evidence workloads (``configs/router_evidence.yaml``) and time scaling.

Simulated provider time runs ``time_scale`` times faster than real time so the evidence job
stays within its time budget: every duration of the simulation profile (latency medians and
floors, Retry-After, how long a timeout fault hangs) is divided by it, and so are the router's
failover durations (client timeout, retry delay, cooldown), so the two stay in proportion. The
profiles and the routing config on disk stay in real-time units; the factor is recorded with
the evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent_platform.config import load_yaml_model, project_root
from agent_platform.models.simulation_profile import (
    FAULT_KINDS,
    ProviderProfile,
    SimulationProfile,
    load_profile,
)
from agent_platform.models.testing import tuned_routing
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "ROUTER_EVIDENCE_CONFIG",
    "AccuracySettings",
    "FailoverSettings",
    "RouterEvidenceSettings",
    "compress_profile",
    "compress_routing",
    "load_router_evidence",
    "resolve",
]

ROUTER_EVIDENCE_CONFIG = "configs/router_evidence.yaml"
ProviderState = Literal["healthy", "down", "slow"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AccuracySettings(_Frozen):
    """The routing-accuracy workload: regimes of forced provider states, judged in hindsight."""

    seed: int
    profile: str
    states: tuple[ProviderState, ...] = Field(min_length=1)
    regime_requests: int = Field(ge=1, le=1000)
    tokens: int = Field(ge=1)
    time_scale: float = Field(ge=1, le=100_000)
    lanes: int = Field(ge=1, le=32)


class FailoverSettings(_Frozen):
    """The failover workload: every request meets an incident on its first-choice provider."""

    seed: int
    profile: str
    incidents: dict[str, float] = Field(min_length=1)
    tokens: int = Field(ge=1)
    time_scale: float = Field(ge=1, le=10_000)
    lanes: int = Field(ge=1, le=32)

    @field_validator("incidents")
    @classmethod
    def _known_faults(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, weight in value.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"incident {kind!r} is not a fault kind; allowed: {FAULT_KINDS}")
            if not weight > 0:
                raise ValueError(f"incident {kind!r} has weight {weight}; weights must be > 0")
        return value


class RouterEvidenceSettings(_Frozen):
    accuracy: AccuracySettings
    failover: FailoverSettings


def load_router_evidence(path: Path | None = None) -> RouterEvidenceSettings:
    """Load ``configs/router_evidence.yaml`` (errors name file, key and what is allowed)."""
    return load_yaml_model(path or project_root() / ROUTER_EVIDENCE_CONFIG, RouterEvidenceSettings)


def resolve(relative: str) -> Path:
    """A config path of the settings, relative to the project root unless absolute."""
    path = Path(relative)
    return path if path.is_absolute() else project_root() / path


def _compress_provider(profile: ProviderProfile, scale: float) -> ProviderProfile:
    latency = profile.latency.model_copy(
        update={
            "median_ms": profile.latency.median_ms / scale,
            "min_ms": profile.latency.min_ms / scale,
        }
    )
    return profile.model_copy(
        update={
            "latency": latency,
            "retry_after_s": profile.retry_after_s / scale,
            "timeout_sleep_s": profile.timeout_sleep_s / scale,
        }
    )


def compress_profile(path: Path, scale: float) -> SimulationProfile:
    """The simulation profile at ``path`` with every duration divided by ``scale``."""
    profile = load_profile(path)
    return profile.model_copy(
        update={
            "default": _compress_provider(profile.default, scale),
            "providers": {n: _compress_provider(p, scale) for n, p in profile.providers.items()},
        }
    )


def compress_routing(routing: RoutingConfig, scale: float) -> RoutingConfig:
    """``routing`` with its failover durations (timeout, retry delay, cooldown) ÷ ``scale``."""
    failover = routing.failover
    return tuned_routing(
        routing,
        request_timeout_s=failover.request_timeout_s / scale,
        retry_delay_ms=round(failover.retry_delay_ms / scale),
        cooldown_s=failover.cooldown_s / scale,
    )
