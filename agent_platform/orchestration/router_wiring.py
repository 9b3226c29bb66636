"""Wire the graph's model client to the model router: offline on the simulator, or live.

Offline (no provider credentials) a run's scripted responses are loaded into a loopback
:class:`~agent_platform.models.simulator.ProviderSimulator` and the real router (routing,
budgets, failover, residency) talks to it over HTTP, so the graph exercises the same code path
as with real providers and the traffic is labelled simulated. Live mode builds the router on
the configured provider endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from agent_platform.events import EventSink
from agent_platform.models.providers import LiteLLMAdapter
from agent_platform.orchestration.llm import RouterLLM
from agent_platform.orchestration.scripted import ScriptedResponse

if TYPE_CHECKING:
    from agent_platform.models.simulation_profile import SimulationProfile

__all__ = ["RoutedModels", "live_models", "simulated_models"]


@dataclass(frozen=True)
class RoutedModels:
    """The model client for a run, the router behind it and, offline, the simulator."""

    llm: RouterLLM
    router: Any
    simulator: Any | None
    label: str

    def warm_up(self) -> None:
        """Import litellm now (seconds, once per process) rather than inside the first node."""
        caller = self.router.runner.caller
        if isinstance(caller, LiteLLMAdapter):
            caller.warm_up()


def _router(engine: Engine, simulator_url: str | None, mode: str, sink: EventSink | None) -> Any:
    from agent_platform.finops import FinOpsBudget, load_finops, open_store
    from agent_platform.models.config import load_residency, load_routing
    from agent_platform.models.factory import build_router

    routing = load_routing()
    finops = load_finops(routing=routing)
    budget = FinOpsBudget(finops, routing, open_store(engine, finops), sink=sink)
    return build_router(routing, load_residency(), budget, simulator_url=simulator_url, mode=mode)


@contextmanager
def simulated_models(
    engine: Engine,
    script: list[ScriptedResponse],
    *,
    sink: EventSink | None = None,
    profile: SimulationProfile | None = None,
) -> Iterator[RoutedModels]:
    """A router on a loopback provider simulator answering from ``script``.

    ``profile`` sets the simulator's latency and faults (default: instant, fault-free); the
    scale benchmark gives every run the same realistic, time-compressed latency profile.
    """
    from agent_platform.models.simulation_profile import ScriptRule
    from agent_platform.models.simulator import ProviderSimulator

    rules = [ScriptRule(match=list(r.match), content=r.content) for r in script]
    with ProviderSimulator(profile, script=rules) as simulator:
        router = _router(engine, simulator.base_url, "simulator", sink)
        label = f"provider simulator on {simulator.base_url} (simulated, scripted responses)"
        yield RoutedModels(RouterLLM(router), router, simulator, label)


def live_models(engine: Engine, *, sink: EventSink | None = None) -> RoutedModels:
    """A router on the configured real providers (credentials from the environment)."""
    router = _router(engine, None, "live", sink)
    return RoutedModels(RouterLLM(router), router, None, "live providers")
