"""The LLM router: residency, health and budget filters, weighted scoring, reserve, call, failover.

``await ModelRouter.route(prompt, task, token_estimate, correlation_id=...)`` is what the graph
nodes call. It decides (:mod:`~agent_platform.models.decision`), then serves the request along
the decision's attempt order (:mod:`~agent_platform.models.failover`): the estimate is reserved
before each provider call, reconciled with the reported usage on success and released on
failure. A request nobody can afford raises :class:`BudgetExceededError` before any network
traffic. Budget operations are synchronous (a Redis script or one SQL transaction) and run on
the event loop's thread.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from agent_platform.errors import BudgetExceededError, InvalidInputError, NoEligibleProviderError
from agent_platform.finops.guardrails import FinOpsBudget
from agent_platform.models.decision import Decider, RouteDecision
from agent_platform.models.endpoints import Endpoint
from agent_platform.models.failover import FailoverRunner, ProviderCaller, Sleep
from agent_platform.models.health import HealthTracker
from agent_platform.models.tokens import count_tokens, live_prompt_tokens
from agent_platform.models.types import RouteResult
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["ModelRouter"]


class ModelRouter:
    """Routes completions to providers under budget, residency and health constraints."""

    def __init__(
        self,
        routing: RoutingConfig,
        residency: ResidencyConfig,
        budget: FinOpsBudget,
        endpoints: Mapping[str, Endpoint],
        caller: ProviderCaller,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        health: HealthTracker | None = None,
    ) -> None:
        self.routing = routing
        self.residency = residency
        self.budget = budget
        self.endpoints = dict(endpoints)
        self.health = health or HealthTracker(
            cooldown_s=routing.failover.cooldown_s,
            failure_threshold=routing.failover.failure_threshold,
        )
        self.decider = Decider(routing, residency, self.endpoints, budget, self.health)
        self.runner = FailoverRunner(
            routing, budget, caller, self.health, sleep=sleep, rng=rng or random.Random()
        )
        self._costs: dict[str, Decimal] = defaultdict(Decimal)
        self._counts: dict[str, int] = defaultdict(int)

    @property
    def simulated(self) -> bool:
        """True when every provider call goes to the provider simulator."""
        return all(ep.simulated for ep in self.endpoints.values())

    def decide(
        self,
        task: str,
        token_estimate: int,
        *,
        now: datetime | None = None,
        read_budget: bool = True,
    ) -> RouteDecision:
        """The routing decision for a request, without reserving or calling anything.

        With ``read_budget`` (the default) providers whose estimate does not fit the budget's
        current counters are excluded; :meth:`route` skips that read because its reservation
        is the atomic check (a refused candidate is skipped before any network call).
        """
        return self.decider.decide(task, token_estimate, now, read_budget=read_budget)

    def estimate_cost(self, task: str, token_estimate: int, provider: str | None = None) -> Decimal:
        """EUR the request would hold on ``provider`` (default: the decision's first choice)."""
        if provider is None:
            provider = self.decide(task, token_estimate).provider
            if provider is None:
                return Decimal(0)
        return self.budget.estimate_cost(task, token_estimate, provider)

    def check_budget(self, task: str, token_estimate: int, provider: str | None = None) -> bool:
        """Whether ``provider`` (default: any eligible provider) can hold the estimate now."""
        if provider is not None:
            return self.budget.can_afford(task, token_estimate, provider)
        return self.decide(task, token_estimate).provider is not None

    async def route(
        self,
        prompt: str,
        task: str,
        token_estimate: int,
        *,
        correlation_id: str | None = None,
        skip: tuple[str, ...] = (),
    ) -> RouteResult:
        """Answer ``prompt`` for ``task`` with the best eligible provider, failing over.

        ``token_estimate`` bounds prompt plus completion tokens; the provider is asked for at
        most ``token_estimate - prompt tokens`` completion tokens (prompt tokens as
        :meth:`prompt_tokens` counts them), so the usage billed should not exceed what was
        reserved; when it does, it is still charged and counted in :attr:`usage_overruns`.

        Raises:
            InvalidInputError: unknown task, or an estimate outside 1..max_tokens or below the
                prompt's own token count.
            BudgetExceededError: no provider can hold the estimate (nothing was called).
            NoEligibleProviderError: residency or availability excluded every provider.
            AllProvidersFailedError: every attempt failed; ``attempts`` lists them.
        """
        started = time.perf_counter()
        cid = correlation_id or uuid.uuid4().hex
        self.decider.validate(task, token_estimate)
        prompt_tokens = self.prompt_tokens(prompt)
        max_completion = token_estimate - prompt_tokens
        if max_completion < 1:
            raise InvalidInputError(
                f"token_estimate {token_estimate} does not exceed the prompt's "
                f"{prompt_tokens} tokens; raise it to leave room for the answer"
            )
        decision = self.decide(task, token_estimate, read_budget=False)
        if skip:
            decision = decision.without(skip)
        decision_ms = (time.perf_counter() - started) * 1000.0
        if decision.provider is None:
            raise self._no_provider(decision)
        outcome = await self.runner.run(decision, prompt, max_completion, cid)
        self._costs[task] += outcome.spend.amount_eur
        self._counts[task] += 1
        return RouteResult(
            content=outcome.completion.text,
            provider=outcome.provider,
            model=outcome.model,
            task=task,
            cost_eur=float(outcome.spend.amount_eur),
            prompt_tokens=outcome.completion.prompt_tokens,
            completion_tokens=outcome.completion.completion_tokens,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            decision_ms=decision_ms,
            correlation_id=cid,
            simulated=outcome.completion.simulated,
            failover=outcome.provider != decision.provider,
            attempts=outcome.attempts,
            cost_eur_exact=outcome.spend.amount_eur,
            decided_provider=decision.provider,
        )

    async def failover(
        self,
        prompt: str,
        task: str,
        token_estimate: int,
        *,
        failed_provider: str,
        correlation_id: str | None = None,
    ) -> RouteResult:
        """Serve the request along the attempt order without ``failed_provider`` (the caller
        already saw it fail)."""
        return await self.route(
            prompt, task, token_estimate, correlation_id=correlation_id, skip=(failed_provider,)
        )

    def prompt_tokens(self, prompt: str) -> int:
        """The prompt's size as the router budgets it: the simulator's exact count when every
        call is simulated, else the conservative :func:`live_prompt_tokens` bound."""
        return count_tokens(prompt) if self.simulated else live_prompt_tokens([prompt])

    @property
    def usage_overruns(self) -> int:
        """Served calls whose reported usage exceeded the tokens reserved for them (each was
        still charged its reported usage)."""
        return self.runner.usage_overruns

    def cost_by_task(self) -> dict[str, Decimal]:
        """EUR charged per task type by this router (exact Decimals from the reported usage)."""
        return dict(self._costs)

    def requests_by_task(self) -> dict[str, int]:
        """Requests served per task type by this router."""
        return dict(self._counts)

    def _no_provider(self, decision: RouteDecision) -> Exception:
        reasons = "; ".join(f"{p}: {r}" for p, r in sorted(decision.excluded.items()))
        if decision.budget_blocked:
            return BudgetExceededError(
                f"no provider can hold the request for {decision.task}: {reasons}"
            )
        return NoEligibleProviderError(f"no eligible provider for {decision.task}: {reasons}")
