"""The routing decision: which providers may serve a request, in which order, and why.

Filters run on every decision: residency (:func:`evaluate_vendor` on the endpoint that would
really be called; with enforcement on, a non-compliant vendor is excluded so its endpoint is never
called), availability (credentials), health (cooldown), budget (can the estimate be held) and the
task's quality floor. The survivors are ranked by :mod:`agent_platform.models.scoring`; the
attempt order is the best candidate, then the task's chain (preferred, fallback,
``failover.fallback_provider``), then the rest by score, then providers in cooldown as a last
resort. No provider is called here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from agent_platform.compliance.residency import ResidencyDecision, evaluate_vendor
from agent_platform.errors import InvalidInputError
from agent_platform.finops.guardrails import FinOpsBudget
from agent_platform.models.endpoints import Endpoint
from agent_platform.models.health import HealthTracker
from agent_platform.models.scoring import Candidate, Scored, rank
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["Decider", "RouteDecision"]


@dataclass(frozen=True)
class RouteDecision:
    """What the router would do for one request, without calling anyone.

    ``provider`` is the first choice (None when nobody may serve); ``order`` the full attempt
    order; ``excluded`` maps a provider to why it may not serve (``residency: ...``,
    ``budget: ...``, ``unavailable: ...``); ``cooling`` lists providers in cooldown (tried
    last); ``ranking`` holds the scored candidates, best first.
    """

    task: str
    token_estimate: int
    provider: str | None
    model: str | None
    order: tuple[str, ...]
    ranking: tuple[Scored, ...]
    excluded: Mapping[str, str]
    cooling: tuple[str, ...]
    residency: Mapping[str, ResidencyDecision] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)

    def without(self, providers: tuple[str, ...]) -> RouteDecision:
        """This decision with ``providers`` taken out of the attempt order."""
        order = tuple(p for p in self.order if p not in providers)
        first = order[0] if order else None
        model = self.models.get(first) if first else None
        excluded = {**self.excluded, **{p: "skipped: failed for the caller" for p in providers}}
        return replace(self, provider=first, model=model, order=order, excluded=excluded)

    @property
    def budget_blocked(self) -> bool:
        """True when only the budget stands between the request and a provider."""
        return not self.order and any(r.startswith("budget") for r in self.excluded.values())


class Decider:
    """Computes :class:`RouteDecision` objects for one router."""

    def __init__(
        self,
        routing: RoutingConfig,
        residency: ResidencyConfig,
        endpoints: Mapping[str, Endpoint],
        budget: FinOpsBudget,
        health: HealthTracker,
    ) -> None:
        self.routing = routing
        self.residency = residency
        self.endpoints = endpoints
        self.budget = budget
        self.health = health
        # Residency is judged on the endpoint actually called (live) or impersonated (simulator).
        self._judged = {
            name: residency.model_copy(
                update={"vendors": _with_endpoint(residency, name, ep.residency_endpoint)}
            )
            for name, ep in endpoints.items()
        }

    def validate(self, task: str, token_estimate: int) -> None:
        config = self.routing.task_types.get(task)  # type: ignore[call-overload]
        if config is None:
            raise InvalidInputError(
                f"task {task!r} is unknown; allowed: {sorted(self.routing.task_types)}"
            )
        if isinstance(token_estimate, bool) or not isinstance(token_estimate, int):
            raise InvalidInputError(f"token_estimate must be an integer; got {token_estimate!r}")
        if not 1 <= token_estimate <= config.max_tokens:
            raise InvalidInputError(
                f"token_estimate {token_estimate} is outside 1..task_types.{task}.max_tokens "
                f"({config.max_tokens})"
            )

    def decide(
        self,
        task: str,
        token_estimate: int,
        now: datetime | None = None,
        *,
        read_budget: bool = True,
    ) -> RouteDecision:
        """The decision; ``read_budget=False`` skips the advisory read of the budget counters
        (the router's reservation, made next, is the atomic budget check either way)."""
        self.validate(task, token_estimate)
        excluded: dict[str, str] = {}
        verdicts: dict[str, ResidencyDecision] = {}
        open_: list[str] = []
        for name in self.routing.providers:
            verdict = evaluate_vendor(name, self._judged[name])
            verdicts[name] = verdict
            unavailable = self.endpoints[name].unavailable_reason
            if not verdict.eu_compliant and self.residency.enforcement.block_non_eu_requests:
                excluded[name] = f"residency: {verdict.reason}"
            elif unavailable is not None:
                excluded[name] = f"unavailable: {unavailable}"
            else:
                open_.append(name)
        models = {name: self.routing.providers[name].models[task] for name in open_}  # type: ignore[index]
        for name in list(open_):
            refusal = self.budget.refusal_reason(name, models[name])
            if refusal is not None:
                excluded[name] = f"budget: {refusal}"
                open_.remove(name)
        requests = [(name, models[name], token_estimate) for name in open_]
        if read_budget and requests:
            fits = self.budget.affordable(requests, now=now)
        else:
            fits = [True] * len(requests)
        affordable = []
        for name, ok in zip(open_, fits, strict=True):
            if ok:
                affordable.append(name)
            else:
                excluded[name] = "budget: the estimate does not fit a cap or token ceiling"
        return self._order(task, token_estimate, affordable, models, excluded, verdicts)

    def _order(
        self,
        task: str,
        tokens: int,
        affordable: list[str],
        models: dict[str, str],
        excluded: dict[str, str],
        verdicts: dict[str, ResidencyDecision],
    ) -> RouteDecision:
        task_cfg = self.routing.task_types[task]  # type: ignore[index]
        chain = [
            task_cfg.preferred_provider,
            task_cfg.fallback,
            self.routing.failover.fallback_provider,
        ]
        healthy = [n for n in affordable if self.health.available(n)]
        cooling = tuple(n for n in affordable if n not in healthy)
        floor = task_cfg.min_accuracy
        scored_names = [n for n in healthy if self.routing.providers[n].accuracy_for(task) >= floor]
        ranking = rank(
            self.routing.weights,
            [self._candidate(n, models[n], task, tokens) for n in scored_names],
            chain,
        )
        # Healthy providers first (the best, the chain, the rest by score), then those in cooldown:
        # a cooling chain member is a last resort, never tried before a healthy fallback.
        order: list[str] = [s.provider for s in ranking[:1]]
        for name in [*chain, *(s.provider for s in ranking[1:])]:
            if name not in order and name in healthy:
                order.append(name)
        last_resort = sorted(cooling, key=lambda n: chain.index(n) if n in chain else len(chain))
        order.extend(last_resort)
        first = order[0] if order else None
        return RouteDecision(
            task, tokens, first, models.get(first) if first else None, tuple(order),
            tuple(ranking), excluded, cooling, verdicts, models,
        )  # fmt: skip

    def _candidate(self, name: str, model: str, task: str, tokens: int) -> Candidate:
        provider = self.routing.providers[name]
        observed = self.health.observed_latency_ms(name)
        latency = max(provider.base_latency_ms, observed or 0.0)
        cost = self.budget.prices.estimate_eur(name, model, tokens)
        return Candidate(name, model, cost, latency, provider.accuracy_for(task))


def _with_endpoint(config: ResidencyConfig, name: str, endpoint: str) -> dict[str, object]:
    vendors: dict[str, object] = dict(config.vendors)
    vendor = config.vendors.get(name)
    if vendor is not None and endpoint:
        vendors[name] = vendor.model_copy(update={"endpoint": endpoint})
    return vendors
