"""Helpers for tests and benchmarks of the router (shipped so other packages' tests can use them).

Config variants with short timeouts and delays, an event sink that records what it was given,
a sleep that records instead of waiting, a provider caller that reports the simulator's true
latency instead of the stopwatch's, and a probe that makes a router call every provider once.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from agent_platform.errors import (
    AllProvidersFailedError,
    BudgetExceededError,
    NoEligibleProviderError,
)
from agent_platform.events import RecordingSink
from agent_platform.models.failover import ProviderCaller
from agent_platform.models.providers import Completion
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

if TYPE_CHECKING:
    from agent_platform.models.router import ModelRouter

__all__ = [
    "RecordingSink",
    "RecordingSleep",
    "TrueLatencyCaller",
    "probe_providers",
    "tuned_finops",
    "tuned_routing",
]


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


class RecordingSleep:
    """An async sleep that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class TrueLatencyCaller:
    """A :class:`ProviderCaller` that makes the real call through ``inner`` (the litellm adapter
    talking to the simulator) but reports the simulator's true latency for the provider instead
    of the wall-clock time, which also holds client overhead that varies with machine load.

    For tests that must compare the router with an oracle reading the simulator's truth: the
    router's latency observations then equal that truth exactly, so its decisions are
    deterministic; failures, cooldowns and usage still come from the real HTTP exchange.
    """

    def __init__(self, inner: ProviderCaller, simulator: ProviderSimulator) -> None:
        self.inner = inner
        self.simulator = simulator

    async def complete(
        self, provider: str, model: str, prompt: str, *, max_tokens: int, correlation_id: str
    ) -> Completion:
        completion = await self.inner.complete(
            provider, model, prompt, max_tokens=max_tokens, correlation_id=correlation_id
        )
        true_ms = self.simulator.expected_latency_ms(provider)
        return dataclasses.replace(completion, latency_ms=true_ms)


async def probe_providers(
    router: ModelRouter, prompt: str, task: str, token_estimate: int
) -> dict[str, str]:
    """Route one request to each provider in turn (all others skipped), so the router learns
    every provider's state the way it does in production: a failure starts a cooldown, a
    success feeds the latency median. Returns each provider's outcome (``ok`` or the error's
    class name)."""
    names = tuple(router.routing.providers)
    outcomes: dict[str, str] = {}
    for name in names:
        skip = tuple(other for other in names if other != name)
        try:
            await router.route(prompt, task, token_estimate, skip=skip)
        except (AllProvidersFailedError, BudgetExceededError, NoEligibleProviderError) as exc:
            outcomes[name] = type(exc).__name__
        else:
            outcomes[name] = "ok"
    return outcomes
