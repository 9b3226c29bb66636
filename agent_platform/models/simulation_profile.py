"""Profiles of the provider simulator: per-provider latency and fault rates, and scripts.

A profile is a YAML file under ``configs/simulation/`` (validated here, errors naming file and
key); a script is a list of rules that map prompts to responses, so tests and scenarios get the
planner/coder/critic answers they need, deterministically.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_platform.config import load_yaml_model

__all__ = [
    "FAULT_KINDS",
    "FaultRates",
    "LatencyProfile",
    "ProviderProfile",
    "ScriptRule",
    "SimulationProfile",
    "load_profile",
]

FAULT_KINDS: tuple[str, ...] = (
    "rate_limited",
    "server_error",
    "unavailable",
    "timeout",
    "reset",
    "malformed",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LatencyProfile(_Frozen):
    """Lognormal latency: ``median_ms * exp(sigma * N(0, 1))``, at least ``min_ms``."""

    median_ms: float = Field(default=0.0, ge=0)
    sigma: float = Field(default=0.0, ge=0, le=3)
    min_ms: float = Field(default=0.0, ge=0)


class FaultRates(_Frozen):
    """Probability of each fault per request (429, 500, 503, timeout, reset, malformed body)."""

    rate_limited: float = Field(default=0.0, ge=0, le=1)
    server_error: float = Field(default=0.0, ge=0, le=1)
    unavailable: float = Field(default=0.0, ge=0, le=1)
    timeout: float = Field(default=0.0, ge=0, le=1)
    reset: float = Field(default=0.0, ge=0, le=1)
    malformed: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> FaultRates:
        total = sum(getattr(self, kind) for kind in FAULT_KINDS)
        if total > 1.0:
            raise ValueError(f"fault rates must sum to at most 1.0 (got {total:g})")
        return self


class ProviderProfile(_Frozen):
    latency: LatencyProfile = Field(default_factory=LatencyProfile)
    faults: FaultRates = Field(default_factory=FaultRates)
    retry_after_s: float = Field(default=1.0, ge=0)
    timeout_sleep_s: float = Field(default=5.0, ge=0, le=600)
    slow_factor: float = Field(default=10.0, ge=1)


class SimulationProfile(_Frozen):
    """Per-provider behaviour; providers not listed use ``default``."""

    seed: int = 0
    default: ProviderProfile = Field(default_factory=ProviderProfile)
    providers: dict[str, ProviderProfile] = Field(default_factory=dict)

    def for_provider(self, name: str) -> ProviderProfile:
        return self.providers.get(name, self.default)


class ScriptRule(_Frozen):
    """Answer ``content`` when every string of ``match`` occurs in the prompt (and ``regex``
    matches, and the provider is ``provider`` when set)."""

    match: list[str] = Field(default_factory=list)
    regex: str | None = None
    provider: str | None = None
    content: str

    @field_validator("match", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex {value!r} does not compile: {exc}") from exc
        return value

    def matches(self, provider: str, prompt: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        if not all(part in prompt for part in self.match):
            return False
        return self.regex is None or re.search(self.regex, prompt) is not None


def load_profile(path: Path) -> SimulationProfile:
    """Load a simulator profile; a bad one raises ConfigError naming file and key."""
    return load_yaml_model(path, SimulationProfile)
