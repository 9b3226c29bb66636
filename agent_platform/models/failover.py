"""Failover: walk the decision's attempt order with bounded retries, holding budget per attempt.

For each attempt: reserve the estimate for that provider (a refusal is recorded and costs no
network call), call it (the caller bounds it by ``request_timeout_s``), then commit the reported usage, or
release the hold on any failure, cancellation included. Moving to another provider is
immediate; re-trying a provider already tried in this request first waits
``retry_delay_ms * backoff_multiplier**(n-1)`` (+/- jitter), or the provider's remaining
Retry-After cooldown when that is longer, before its hold is taken. At most ``1 + max_retries``
provider calls per request.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from agent_platform.errors import (
    AgentPlatformError,
    AllProvidersFailedError,
    BudgetExceededError,
    ProviderError,
)
from agent_platform.finops.guardrails import FinOpsBudget, Reservation, SpendResult
from agent_platform.models.decision import RouteDecision
from agent_platform.models.health import HealthTracker
from agent_platform.models.providers import Completion
from agent_platform.models.types import Attempt
from agent_platform.schemas.routing import FailoverConfig, RoutingConfig

__all__ = ["CallOutcome", "FailoverRunner", "ProviderCaller", "backoff_delay"]

Sleep = Callable[[float], Awaitable[None]]


class ProviderCaller(Protocol):
    """The seam before the network: :class:`~agent_platform.models.providers.LiteLLMAdapter`.

    ``complete`` must return or raise within the routing config's ``request_timeout_s`` (the
    adapter enforces it with ``asyncio.wait_for``), so a hold never outlives its call.
    """

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


@dataclass(frozen=True)
class _Call:
    """What one provider call is asked."""

    provider: str
    model: str
    prompt: str
    max_completion: int
    correlation_id: str

    def attempt(
        self, outcome: str, latency_ms: float, cost: float, error: str | None, status: int | None
    ) -> Attempt:
        """The :class:`Attempt` record of this call."""
        return Attempt(
            self.provider, self.model, outcome, latency_ms, cost, self.correlation_id, error, status
        )


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
        self.usage_overruns = 0

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
            if tried[provider]:  # back off before holding budget, never while holding it
                await self.sleep(self._delay(provider, tried[provider]))
            hold = self._reserve(decision, provider, model, correlation_id, attempts)
            if hold is None:
                refused.add(provider)
                continue
            tried[provider] += 1
            calls_left -= 1
            call = _Call(provider, model, prompt, max_completion, correlation_id)
            outcome = await self._held_attempt(hold, call, attempts)
            if outcome is not None:
                return outcome
        if attempts and all(a.outcome == "budget_refused" for a in attempts):
            raise BudgetExceededError(
                f"no provider can hold {decision.token_estimate} tokens for {decision.task}: "
                + "; ".join(a.error or "" for a in attempts)
            )
        raise AllProvidersFailedError(decision.task, [a.as_dict() for a in attempts])

    def _reserve(
        self,
        decision: RouteDecision,
        provider: str,
        model: str,
        correlation_id: str,
        attempts: list[Attempt],
    ) -> Reservation | None:
        """Hold the estimate on ``provider``; None (and a recorded refusal) when it cannot."""
        try:
            return self.budget.reserve(
                provider, model, decision.task, decision.token_estimate,
                correlation_id=correlation_id,
            )  # fmt: skip
        except BudgetExceededError as exc:
            attempts.append(
                Attempt(provider, model, "budget_refused", 0.0, 0.0, correlation_id, str(exc))
            )
            return None

    async def _held_attempt(
        self, hold: Reservation, call: _Call, attempts: list[Attempt]
    ) -> CallOutcome | None:
        """One provider call under ``hold``: settled on success, released on any failure.

        A :class:`ProviderError` is recorded and returns None (fail over); anything else
        (cancellation, a storage or programming error) releases the hold and propagates.
        """
        started = time.perf_counter()
        try:
            completion = await self._call(call)
        except ProviderError as exc:
            self.budget.release(hold)
            self.health.record_failure(call.provider, exc)
            elapsed = (time.perf_counter() - started) * 1000.0
            attempts.append(call.attempt(exc.kind, elapsed, 0.0, str(exc), exc.status))
            return None
        except BaseException as exc:
            self._release_after(hold, exc)
            raise
        try:
            spend = self.budget.commit(hold, completion.prompt_tokens, completion.completion_tokens)
        except BaseException as exc:
            self._release_after(hold, exc)
            raise
        if completion.prompt_tokens + completion.completion_tokens > hold.tokens:
            self.usage_overruns += 1  # charged in full; counted so undersized estimates show
        self.health.record_success(call.provider, completion.latency_ms)
        attempts.append(
            call.attempt("ok", completion.latency_ms, float(spend.amount_eur), None, 200)
        )
        return CallOutcome(completion, spend, call.provider, call.model, tuple(attempts))

    async def _call(self, call: _Call) -> Completion:
        """The provider call (the caller bounds it by ``request_timeout_s``)."""
        return await self.caller.complete(
            call.provider, call.model, call.prompt,
            max_tokens=call.max_completion, correlation_id=call.correlation_id,
        )  # fmt: skip

    def _release_after(self, hold: Reservation, exc: BaseException) -> None:
        """Release ``hold`` while ``exc`` propagates; a failed release is noted on ``exc`` (the
        reclaimer frees the hold at its TTL) so the original error is not replaced."""
        try:
            self.budget.release(hold)
        except AgentPlatformError as release_exc:
            exc.add_note(f"budget hold {hold.id} not released: {release_exc}")

    def _next(self, order: tuple[str, ...], tried: Counter[str], refused: set[str]) -> str | None:
        """The untried provider next in order; else the least-tried one, preferring those not
        in cooldown and, among equals, the one with the fewest failures in a row across
        requests (a provider that keeps failing is a worse re-try than one that failed once
        between successes), then the order."""
        usable = [p for p in order if p not in refused]
        if not usable:
            return None
        fresh = [p for p in usable if not tried[p]]
        if fresh:
            return fresh[0]
        ready = [p for p in usable if self.health.available(p)] or usable
        return min(
            ready, key=lambda p: (tried[p], self.health.failures_in_a_row(p), usable.index(p))
        )

    def _delay(self, provider: str, previous_tries: int) -> float:
        delay = backoff_delay(self.routing.failover, previous_tries, self.rng)
        delay = max(delay, self.health.cooldown_remaining(provider))
        return min(delay, self.routing.failover.request_timeout_s)
