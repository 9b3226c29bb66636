"""Which provider a request re-tries once every provider in its order has been tried."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, cast

from agent_platform.errors import ProviderError
from agent_platform.models.config import load_routing
from agent_platform.models.failover import FailoverRunner
from agent_platform.models.health import HealthTracker

ORDER = ("anthropic", "openai", "local")


def _runner(health: HealthTracker) -> FailoverRunner:
    """Only the choice is exercised: no budget or caller is reached."""

    async def sleep(_: float) -> None:
        return None

    none = cast(Any, None)
    return FailoverRunner(load_routing(), none, none, health, sleep=sleep, rng=random.Random(1))


def _fail(health: HealthTracker, provider: str, times: int) -> None:
    for _ in range(times):
        health.record_failure(provider, ProviderError(provider, "server_error", "boom", 500))


def test_untried_providers_go_first_in_order() -> None:
    runner = _runner(HealthTracker(cooldown_s=30, failure_threshold=5))
    assert runner._next(ORDER, Counter({"anthropic": 1}), set()) == "openai"


def test_a_retry_prefers_the_provider_that_failed_once_over_one_that_keeps_failing() -> None:
    health = HealthTracker(cooldown_s=30, failure_threshold=5)
    _fail(health, "anthropic", 3)  # failing request after request, not yet in cooldown
    _fail(health, "openai", 1)  # one failure between successes
    health.record_success("local", 10.0)
    _fail(health, "local", 1)
    tried = Counter({"anthropic": 1, "openai": 1, "local": 1})
    assert _runner(health)._next(ORDER, tried, set()) == "openai"


def test_equal_histories_keep_the_order_and_cooldowns_still_come_first() -> None:
    health = HealthTracker(cooldown_s=30, failure_threshold=2)
    tried = Counter({"anthropic": 1, "openai": 1, "local": 1})
    assert _runner(health)._next(ORDER, tried, set()) == "anthropic"
    _fail(health, "anthropic", 2)  # now in cooldown
    _fail(health, "openai", 2)
    _fail(health, "local", 1)
    assert _runner(health)._next(ORDER, tried, set()) == "local"
    assert _runner(health)._next(ORDER, tried, {"local"}) == "anthropic"  # all cooling: order
