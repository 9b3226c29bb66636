"""The hindsight fan-out: one request sent to every eligible provider, and what each one did.

This is the yardstick's own client, not the router's: a plain HTTP call in the provider's wire
format (OpenAI chat completions or Anthropic messages) to the provider simulator, so nothing of
the router's code (or of litellm) sits between the request and the observation. An answer is
a 200 whose body parses and carries text and usage; its cost is the price of the reported usage
(:meth:`~agent_platform.finops.pricing.PriceBook.actual`); its latency is the one the simulator
drew for this request (looked up in its request log by correlation id), scaled back to real
time, so the observation does not depend on this machine's load.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from agent_platform.evidence.hindsight import (
    Observation,
    format_observations,
    parse_observations,
)
from agent_platform.finops.pricing import PriceBook
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["Call", "FanOut", "Outcome"]

_TIMEOUT_S = 10.0  # wall clock; no state of the accuracy profile comes near it


@dataclass(frozen=True)
class Outcome:
    """One provider's answer to the fan-out: the observation and the HTTP status behind it."""

    observation: Observation
    status: int | None


@dataclass(frozen=True)
class Call:
    """The request every provider receives."""

    task: str
    prompt: str
    max_tokens: int


@dataclass(frozen=True)
class _Answer:
    status: int | None
    prompt_tokens: int
    completion_tokens: int
    ok: bool


class FanOut:
    """Sends a :class:`Call` to every eligible provider of one simulator, concurrently."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        simulator: ProviderSimulator,
        routing: RoutingConfig,
        prices: PriceBook,
        time_scale: float,
    ) -> None:
        self.client = client
        self.simulator = simulator
        self.routing = routing
        self.prices = prices
        self.time_scale = time_scale

    async def send(self, call: Call, providers: Sequence[str]) -> list[Outcome]:
        """Every provider's outcome, in ``providers`` order, as the CSV will hold it."""
        self.simulator.clear_log()
        ids = {name: uuid.uuid4().hex for name in providers}
        answers = await asyncio.gather(*(self._post(name, call, ids[name]) for name in providers))
        drawn = {r.correlation_id: r.drawn_latency_ms for r in self.simulator.requests()}
        observed = [
            self._observe(name, call.task, answer, drawn.get(ids[name], 0.0))
            for name, answer in zip(providers, answers, strict=True)
        ]
        # Rounded as written, so the gate's reader judges exactly what the workload judged.
        rounded = parse_observations(format_observations(observed))
        return [Outcome(o, a.status) for o, a in zip(rounded, answers, strict=True)]

    def _observe(self, name: str, task: str, answer: _Answer, drawn_ms: float) -> Observation:
        provider = self.routing.providers[name]
        task_cfg = self.routing.task_types[task]  # type: ignore[index]
        cost = 0.0
        if answer.ok:
            model = provider.models[task]  # type: ignore[index]
            usage = (answer.prompt_tokens, answer.completion_tokens)
            cost = float(self.prices.actual(name, model, *usage).amount_eur)
        meets = provider.accuracy_for(task) >= task_cfg.min_accuracy
        return Observation(name, answer.ok, drawn_ms * self.time_scale, cost, meets)

    async def _post(self, name: str, call: Call, correlation_id: str) -> _Answer:
        provider = self.routing.providers[name]
        anthropic = provider.api == "anthropic"
        path = "/v1/messages" if anthropic else "/v1/chat/completions"
        body = {
            "model": provider.models[call.task],  # type: ignore[index]
            "messages": [{"role": "user", "content": call.prompt}],
            "max_tokens": call.max_tokens,
        }
        try:
            response = await self.client.post(
                self.simulator.url_for(name) + path,
                json=body,
                headers={"x-correlation-id": correlation_id},
                timeout=_TIMEOUT_S,
            )
        except httpx.HTTPError:
            return _Answer(None, 0, 0, False)
        if response.status_code != 200:
            return _Answer(response.status_code, 0, 0, False)
        try:
            return _usage(response.json(), anthropic)
        except (ValueError, KeyError, IndexError, TypeError):
            return _Answer(200, 0, 0, False)


def _usage(data: Any, anthropic: bool) -> _Answer:
    """Text and usage of a 200 body; raises on a body that lacks them (a malformed answer)."""
    usage = data["usage"]
    if anthropic:
        text, tokens = data["content"][0]["text"], (usage["input_tokens"], usage["output_tokens"])
    else:
        text = data["choices"][0]["message"]["content"]
        tokens = (usage["prompt_tokens"], usage["completion_tokens"])
    if not isinstance(text, str) or not all(isinstance(t, int) for t in tokens):
        raise TypeError("an answer needs text and integer usage")
    return _Answer(200, tokens[0], tokens[1], True)
