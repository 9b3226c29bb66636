"""Assemble a :class:`ModelRouter`: endpoints for the mode, the litellm adapter, the budget.

``simulator`` mode (the default when no provider credentials are set) needs the base URL of a
running :class:`~agent_platform.models.simulator.ProviderSimulator`; ``live`` mode reads the
credentials described in :mod:`agent_platform.models.endpoints`.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping

from agent_platform.errors import InvalidInputError
from agent_platform.finops.guardrails import FinOpsBudget
from agent_platform.models.endpoints import build_endpoints, select_mode
from agent_platform.models.failover import Sleep
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.models.router import ModelRouter
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["build_router"]


def build_router(
    routing: RoutingConfig,
    residency: ResidencyConfig,
    budget: FinOpsBudget,
    *,
    simulator_url: str | None = None,
    mode: str | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> ModelRouter:
    """A router over litellm for ``mode`` (default: :func:`select_mode` of the environment).

    Raises:
        InvalidInputError: simulator mode without ``simulator_url``, or an unknown mode.
    """
    env = os.environ if environ is None else environ
    chosen = mode or select_mode(env)
    if chosen not in ("simulator", "live"):
        raise InvalidInputError(f"mode {chosen!r} is not allowed; allowed: ['live', 'simulator']")
    if chosen == "simulator" and not simulator_url:
        raise InvalidInputError(
            "simulator mode needs simulator_url: start a ProviderSimulator and pass its base_url"
        )
    endpoints = build_endpoints(
        routing, residency, mode=chosen, simulator_url=simulator_url, environ=env
    )
    adapter = LiteLLMAdapter(endpoints, timeout_s=routing.failover.request_timeout_s)
    return ModelRouter(routing, residency, budget, endpoints, adapter, sleep=sleep, rng=rng)
