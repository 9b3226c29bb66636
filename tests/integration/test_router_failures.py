"""Budget holds under failures the provider did not cause, and live-mode reservation sizing.

The provider caller is a stand-in that blocks, raises or over-reports usage; the budget is real
(SQLite, or Redis counters with PostgreSQL spend).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
import redis

from agent_platform.db import create_engine_for
from agent_platform.errors import ProviderError, StorageError
from agent_platform.finops.config import load_finops
from agent_platform.finops.factory import open_store
from agent_platform.finops.guardrails import FinOpsBudget
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import build_endpoints
from agent_platform.models.providers import Completion
from agent_platform.models.router import ModelRouter
from agent_platform.models.testing import RecordingSleep, tuned_finops, tuned_routing
from agent_platform.models.tokens import count_tokens, live_prompt_tokens

ROUTING = tuned_routing(load_routing(), request_timeout_s=5, retry_delay_ms=5, max_retries=1)
RESIDENCY = load_residency()
FINOPS = tuned_finops(load_finops(routing=load_routing()), reservation_ttl_s=60)
PROMPT = "Write add(a, b) with a pytest test. Überprüfe Grenzfälle: ä, ö, ü."


class Caller:
    """A provider stand-in: ``behaviour`` decides each call (raise, block, or answer)."""

    def __init__(self, behaviour: str, usage: tuple[int, int] = (10, 10)) -> None:
        self.behaviour, self.usage = behaviour, usage
        self.calls: list[tuple[str, int]] = []
        self.entered = asyncio.Event()

    async def complete(
        self, provider: str, model: str, prompt: str, *, max_tokens: int, correlation_id: str
    ) -> Completion:
        self.calls.append((provider, max_tokens))
        self.entered.set()
        if self.behaviour == "block":
            await asyncio.Event().wait()
        if self.behaviour == "bug":
            raise KeyError("a programming error, not a provider failure")
        if self.behaviour == "storage":
            raise StorageError("session store unavailable")
        if self.behaviour == "fail_then_block" and len(self.calls) == 1:
            raise ProviderError(provider, "server_error", "boom", 500)
        if self.behaviour == "fail_then_block":
            await asyncio.Event().wait()
        return Completion("ok", self.usage[0], self.usage[1], 1.0, False)


@pytest.fixture(params=["sqlite", "redis"])
def budget(request: pytest.FixtureRequest) -> Iterator[FinOpsBudget]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = create_engine_for(url)
    client = None
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = request.getfixturevalue("redis_prefix") if client is not None else "ap:"
    store = open_store(engine, FINOPS, redis_client=client, redis_prefix=prefix)
    yield FinOpsBudget(FINOPS, ROUTING, store)
    if client is not None:
        client.close()
    engine.dispose()


def _router(budget: FinOpsBudget, caller: Caller, *, live: bool = False) -> ModelRouter:
    if live:
        env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "AWS_ACCESS_KEY_ID": "k"}
        endpoints = build_endpoints(ROUTING, RESIDENCY, mode="live", environ=env)
    else:
        endpoints = build_endpoints(
            ROUTING, RESIDENCY, mode="simulator", simulator_url="http://127.0.0.1:9"
        )
    return ModelRouter(
        ROUTING, RESIDENCY, budget, endpoints, caller, sleep=RecordingSleep(),
        rng=random.Random(1),
    )  # fmt: skip


def _held(budget: FinOpsBudget) -> tuple[Decimal, Decimal]:
    status = budget.get_remaining_budget()
    return status.day.reserved, sum((w.reserved for w in status.tokens.values()), Decimal(0))


async def test_cancellation_mid_call_releases_the_hold(budget: FinOpsBudget) -> None:
    caller = Caller("block")
    task = asyncio.create_task(_router(budget, caller).route(PROMPT, "coding", 2000))
    await asyncio.wait_for(caller.entered.wait(), 10)
    assert _held(budget)[0] > 0  # the call is in flight under its hold
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _held(budget) == (Decimal(0), Decimal(0))


@pytest.mark.parametrize("behaviour", ["bug", "storage"])
async def test_a_non_provider_error_releases_the_hold_and_propagates(
    budget: FinOpsBudget, behaviour: str
) -> None:
    caller = Caller(behaviour)
    expected = KeyError if behaviour == "bug" else StorageError
    with pytest.raises(expected):
        await _router(budget, caller).route(PROMPT, "coding", 2000)
    assert len(caller.calls) == 1  # not failed over: a bug is not a provider outage
    assert _held(budget) == (Decimal(0), Decimal(0))


async def test_backoff_happens_before_the_hold_is_taken(budget: FinOpsBudget) -> None:
    observed: list[tuple[Decimal, Decimal]] = []

    async def sleep(seconds: float) -> None:
        observed.append(_held(budget))
        raise asyncio.CancelledError  # cancelled during the backoff

    caller = Caller("fail_then_block")
    router = _router(budget, caller)
    router.runner.sleep = sleep
    router.runner._next = lambda order, tried, refused: order[0]  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await router.route(PROMPT, "coding", 2000)
    assert observed == [(Decimal(0), Decimal(0))]  # nothing held while waiting
    assert _held(budget) == (Decimal(0), Decimal(0))


async def test_live_mode_sizes_the_prompt_conservatively_and_counts_overruns(
    budget: FinOpsBudget,
) -> None:
    live = _router(budget, Caller("ok", usage=(1990, 20)), live=True)
    result = await live.route(PROMPT, "coding", 2000)
    reserved_prompt = live_prompt_tokens([PROMPT])
    assert reserved_prompt > count_tokens(PROMPT)
    assert live.runner.caller.calls == [(result.provider, 2000 - reserved_prompt)]  # type: ignore[attr-defined]
    assert live.usage_overruns == 1  # 2010 reported > 2000 reserved
    assert result.prompt_tokens + result.completion_tokens == 2010  # charged in full
    assert _held(budget) == (Decimal(0), Decimal(0))
    simulated = _router(budget, Caller("ok"))
    await simulated.route(PROMPT, "coding", 2000)
    assert simulated.runner.caller.calls[0][1] == 2000 - count_tokens(PROMPT)  # type: ignore[attr-defined]
    assert simulated.usage_overruns == 0
