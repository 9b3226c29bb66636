"""The routing oracle: the provider a perfect router would pick, given the providers' true state.

Written independently of the router's decision code (it shares only the config and the price
arithmetic), so comparing the two measures the router: the accuracy test and the evidence job's
routing-accuracy asset feed it the simulator's forced state as the truth. Eligibility: residency
(with enforcement on), truly available, affordable, at or above the task's quality floor; the
score is the documented formula (:mod:`agent_platform.models.scoring`'s docstring) with the true
latency ``max(base_latency_ms, true median)``; ties go to the preferred provider, then the
fallback, then the name. With no scored candidate, the first available member of the task's chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent_platform.compliance.residency import evaluate_vendor
from agent_platform.finops.pricing import PriceBook
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["OracleVerdict", "ProviderTruth", "expected_provider", "truth_from_simulator"]


@dataclass(frozen=True)
class ProviderTruth:
    """What is really true of a provider: reachable or not, and its median latency."""

    available: bool = True
    latency_ms: float = 0.0
    affordable: bool = True


@dataclass(frozen=True)
class OracleVerdict:
    """The expected provider, every eligible provider's score and the winning margin."""

    provider: str | None
    scores: Mapping[str, float]
    margin: float


def truth_from_simulator(
    sim: ProviderSimulator, providers: Iterable[str]
) -> dict[str, ProviderTruth]:
    """The simulator's forced state as oracle truth."""
    return {
        name: ProviderTruth(sim.is_available(name), sim.expected_latency_ms(name))
        for name in providers
    }


def expected_provider(
    routing: RoutingConfig,
    residency: ResidencyConfig,
    prices: PriceBook,
    task: str,
    token_estimate: int,
    truth: Mapping[str, ProviderTruth],
) -> OracleVerdict:
    """The best eligible provider for ``task`` under ``truth``."""
    task_cfg = routing.task_types[task]  # type: ignore[index]
    enforce = residency.enforcement.block_non_eu_requests
    usable = [
        name
        for name in routing.providers
        if truth.get(name, ProviderTruth()).available
        and truth.get(name, ProviderTruth()).affordable
        and (not enforce or evaluate_vendor(name, residency).eu_compliant)
    ]
    floor = task_cfg.min_accuracy
    scored = [n for n in usable if routing.providers[n].accuracy.get(task, 0.5) >= floor]  # type: ignore[call-overload]
    scores = _scores(routing, prices, task, token_estimate, scored, truth)
    chain = [task_cfg.preferred_provider, task_cfg.fallback, routing.failover.fallback_provider]
    if not scores:
        return OracleVerdict(next((n for n in chain if n in usable), None), {}, 0.0)
    best = max(scores.values())
    tied = [n for n, s in scores.items() if abs(s - best) <= 1e-9]
    tied.sort(key=lambda n: (chain.index(n) if n in chain else len(chain), n))
    others = sorted((s for n, s in scores.items() if n != tied[0]), reverse=True)
    return OracleVerdict(tied[0], scores, best - others[0] if others else 1.0)


def _scores(
    routing: RoutingConfig,
    prices: PriceBook,
    task: str,
    tokens: int,
    names: list[str],
    truth: Mapping[str, ProviderTruth],
) -> dict[str, float]:
    costs, latencies = {}, {}
    for name in names:
        provider = routing.providers[name]
        model = provider.models[task]  # type: ignore[index]
        costs[name] = float(prices.estimate_eur(name, model, tokens))
        latencies[name] = max(provider.base_latency_ms, truth.get(name, ProviderTruth()).latency_ms)
    top_cost, top_latency = max(costs.values(), default=0.0), max(latencies.values(), default=0.0)
    weights = routing.weights
    out = {}
    for name in names:
        cost = 1 - costs[name] / top_cost if top_cost > 0 else 1.0
        latency = 1 - latencies[name] / top_latency if top_latency > 0 else 1.0
        accuracy = routing.providers[name].accuracy.get(task, 0.5)  # type: ignore[call-overload]
        out[name] = weights.cost * cost + weights.latency * latency + weights.accuracy * accuracy
    return out
