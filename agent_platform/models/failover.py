"""Failover: walk the decision's attempt order with bounded retries, holding budget per attempt.

For each attempt: reserve the estimate for that provider (a refusal is recorded and costs no
network call), call it, then commit the reported usage or release the hold. Moving to another
provider is immediate; re-trying a provider already tried in this request first waits
``retry_delay_ms * backoff_multiplier**(n-1)`` (+/- jitter), or the provider's remaining
Retry-After cooldown when that is longer. At most ``1 + max_retries`` provider calls per request.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from agent_platform.errors import AllProvidersFailedError, BudgetExceededError, ProviderError
from agent_platform.finops.guardrails import FinOpsBudget, SpendResult
from agent_platform.models.decision import RouteDecision
from agent_platform.models.health import HealthTracker
from agent_platform.models.providers import Completion
from agent_platform.models.types import Attempt
from agent_platform.schemas.routing import FailoverConfig, RoutingConfig

__all__ = ["CallOutcome", "FailoverRunner", "ProviderCaller", "backoff_delay"]

Sleep = Callable[[float], Awaitable[None]]


class ProviderCaller(Protocol):
    """The seam before the network: :class:`~agent_platform.models.providers.LiteLLMAdapter`."""

    async def complete(
        self, provider: str, model: str, prompt: str, *, max_tokens: int, correlation_id: str
    ) -> Completion: ...


@dataclass(frozen=True)
class CallOutcome:
    """A served request: the answer, its settled spend and every attempt made for it."""

    completion: Completion
    spend: SpendResult
    provider: str
    model: str
    attempts: tuple[Attempt, ...]


def backoff_delay(config: FailoverConfig, retry: int, rng: random.Random) -> float:
    """Seconds to wait before the ``retry``-th re-try (1-based) of the same provider."""
    base = config.retry_delay_ms / 1000.0 * config.backoff_multiplier ** (retry - 1)
    return max(0.0, base * (1.0 + config.jitter * (2.0 * rng.random() - 1.0)))


class FailoverRunner:
    """Executes one request along a :class:`RouteDecision`."""

    def __init__(
        self,
        routing: RoutingConfig,
        budget: FinOpsBudget,
        caller: ProviderCaller,
        health: HealthTracker,
        *,
        sleep: Sleep,
        rng: random.Random,
    ) -> None:
        self.routing = routing
        self.budget = budget
        self.caller = caller
        self.health = health
        self.sleep = sleep
        self.rng = rng

    async def run(
        self, decision: RouteDecision, prompt: str, max_completion: int, correlation_id: str
    ) -> CallOutcome:
        """Serve the request or raise.

        Raises:
            BudgetExceededError: every provider was refused by the budget; nothing was called.
            AllProvidersFailedError: the attempts ran out; ``attempts`` lists each one.
        """
        attempts: list[Attempt] = []
        tried: Counter[str] = Counter()
        refused: set[str] = set()
        calls_left = 1 + self.routing.failover.max_retries
        while calls_left > 0:
            provider = self._next(decision.order, tried, refused)
            if provider is None:
                break
            model = self.routing.providers[provider].models[decision.task]  # type: ignore[index]
            try:
                hold = self.budget.reserve(
                    provider, model, decision.task, decision.token_estimate,
                    correlation_id=correlation_id,
                )  # fmt: skip
            except BudgetExceededError as exc:
                refused.add(provider)
                attempts.append(
                    Attempt(provider, model, "budget_refused", 0.0, 0.0, correlation_id, str(exc))
                )
                continue
            if tried[provider]:
                await self.sleep(self._delay(provider, tried[provider]))
            tried[provider] += 1
            calls_left -= 1
            started = time.perf_counter()
            try:
                completion = await self.caller.complete(
                    provider,
                    model,
                    prompt,
                    max_tokens=max_completion,
                    correlation_id=correlation_id,
                )
            except ProviderError as exc:
                self.budget.release(hold)
                self.health.record_failure(provider, exc)
                elapsed = (time.perf_counter() - started) * 1000.0
                attempts.append(
                    Attempt(
                        provider,
                        model,
                        exc.kind,
                        elapsed,
                        0.0,
                        correlation_id,
                        str(exc),
                        exc.status,
                    )
                )
                continue
            spend = self.budget.commit(hold, completion.prompt_tokens, completion.completion_tokens)
            self.health.record_success(provider, completion.latency_ms)
            attempts.append(
                Attempt(
                    provider,
                    model,
                    "ok",
                    completion.latency_ms,
                    float(spend.amount_eur),
                    correlation_id,
                    None,
                    200,
                )
            )
            return CallOutcome(completion, spend, provider, model, tuple(attempts))
        if attempts and all(a.outcome == "budget_refused" for a in attempts):
            raise BudgetExceededError(
                f"no provider can hold {decision.token_estimate} tokens for {decision.task}: "
                + "; ".join(a.error or "" for a in attempts)
            )
        raise AllProvidersFailedError(decision.task, [a.as_dict() for a in attempts])

    def _next(self, order: tuple[str, ...], tried: Counter[str], refused: set[str]) -> str | None:
        """The untried provider next in order; else the least-tried one, preferring those not
        in cooldown."""
        usable = [p for p in order if p not in refused]
        if not usable:
            return None
        fresh = [p for p in usable if not tried[p]]
        if fresh:
            return fresh[0]
        ready = [p for p in usable if self.health.available(p)] or usable
        return min(ready, key=lambda p: (tried[p], usable.index(p)))

    def _delay(self, provider: str, previous_tries: int) -> float:
        delay = backoff_delay(self.routing.failover, previous_tries, self.rng)
        delay = max(delay, self.health.cooldown_remaining(provider))
        return min(delay, self.routing.failover.request_timeout_s)
