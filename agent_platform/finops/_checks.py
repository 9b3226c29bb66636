"""Input checks of the budget guardian: every bad argument becomes an :class:`InvalidInputError`.

Each check (and each config lookup that checks its keys first) names the argument or config key,
the value it got and what is allowed, before anything is held or written, so a refused call
leaves the counters untouched.
"""

from __future__ import annotations

from agent_platform.errors import InvalidInputError
from agent_platform.finops.pricing import PriceBook
from agent_platform.schemas.finops import FinOpsConfig, ProviderLimits
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "phase_limits",
    "preferred_provider",
    "require_phase",
    "require_provider",
    "require_task",
    "require_tokens",
    "routing_model",
]


def require_tokens(name: str, value: int, *, minimum: int = 1) -> None:
    """``value`` must be an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}; got {value!r}")


def require_phase(finops: FinOpsConfig, number: int) -> int:
    """``number`` must be a phase of ``policies/finops.yaml``."""
    if number not in finops.phases:
        raise InvalidInputError(
            f"phase {number!r} is not defined in policies/finops.yaml; "
            f"allowed: {sorted(finops.phases)}"
        )
    return number


def require_task(routing: RoutingConfig, task: str) -> None:
    """``task`` must be a task type of the routing config."""
    if task not in routing.task_types:
        raise InvalidInputError(f"task {task!r} is unknown; allowed: {sorted(routing.task_types)}")


def require_provider(routing: RoutingConfig, provider: str) -> None:
    """``provider`` must be a provider of the routing config."""
    if provider not in routing.providers:
        raise InvalidInputError(
            f"provider {provider!r} is unknown; allowed: {sorted(routing.providers)}"
        )


def phase_limits(
    finops: FinOpsConfig, phase: int, prices: PriceBook, provider: str, model: str
) -> ProviderLimits:
    """The token ceiling and models phase ``phase`` allows ``provider``; raises when it does
    not allow ``provider`` or ``model`` (or the routing config does not price them)."""
    allowed = finops.phases[phase].providers
    limits = allowed.get(provider)
    key = f"phases.{phase}.providers"
    if limits is None:
        raise InvalidInputError(
            f"provider {provider!r} is not allowed in {key}; allowed: {sorted(allowed)}"
        )
    prices.require(provider, model)
    if limits.models is not None and model not in limits.models:
        raise InvalidInputError(
            f"model {model!r} is not allowed in {key}.{provider}.models; allowed: {limits.models}"
        )
    return limits


def routing_model(routing: RoutingConfig, task: str, provider: str) -> str:
    """The model ``provider`` uses for ``task`` in the routing config."""
    require_task(routing, task)
    require_provider(routing, provider)
    return routing.providers[provider].models[task]  # type: ignore[index]


def preferred_provider(routing: RoutingConfig, task: str) -> str:
    """The provider the routing config prefers for ``task``."""
    require_task(routing, task)
    return routing.task_types[task].preferred_provider  # type: ignore[index]
