"""The seam between graph nodes and language models.

Nodes ask an :class:`LLMClient` for one completion per call; production hands in
:class:`RouterLLM` (the :class:`~agent_platform.models.router.ModelRouter`, so routing, budgets,
failover and residency apply), offline runs the same router pointed at the provider simulator,
and replay hands in :class:`RecordedLLM`, which serves the responses a ledger recorded and never
calls a provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent_platform.errors import LedgerIntegrityError
from agent_platform.orchestration.types import LLMUsage

__all__ = ["LLMClient", "LLMRequest", "RecordedLLM", "RouterLLM"]


@dataclass(frozen=True)
class LLMRequest:
    """One completion a node asks for."""

    node: str
    task: str
    prompt: str
    answer_tokens: int
    correlation_id: str


class LLMClient(Protocol):
    """Anything that answers a node's prompt with a recorded, billable response."""

    async def complete(self, request: LLMRequest) -> LLMUsage:
        """Answer ``request``; raises BudgetExceededError when the budget is exhausted."""
        ...


class _Router(Protocol):
    routing: Any

    async def route(
        self,
        prompt: str,
        task: str,
        token_estimate: int,
        *,
        correlation_id: str | None = None,
    ) -> Any: ...

    def check_budget(self, task: str, token_estimate: int, provider: str | None = None) -> bool: ...

    def prompt_tokens(self, prompt: str) -> int: ...


# The smallest request a node makes; used to ask the router whether any budget is left.
_MIN_REQUEST_TOKENS = 256


class RouterLLM:
    """Completes prompts through the model router (budgets, failover, residency)."""

    def __init__(self, router: _Router) -> None:
        self._router = router

    def _estimate(self, request: LLMRequest) -> int:
        """Prompt plus answer budget, the prompt counted the way the router bills it (exact on
        the simulator, a conservative bound for live providers), capped at the task's ceiling."""
        ceiling = int(self._router.routing.task_types[request.task].max_tokens)
        return min(self._router.prompt_tokens(request.prompt) + request.answer_tokens, ceiling)

    def budget_exhausted(self, task: str) -> bool:
        """True when the router says no provider can hold even a minimal request of ``task``."""
        return not self._router.check_budget(task, _MIN_REQUEST_TOKENS)

    async def complete(self, request: LLMRequest) -> LLMUsage:
        result = await self._router.route(
            request.prompt,
            request.task,
            self._estimate(request),
            correlation_id=request.correlation_id,
        )
        return LLMUsage(
            content=result.content,
            provider=result.provider,
            model=result.model,
            task=result.task,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost_eur=result.cost_eur,
            simulated=result.simulated,
            correlation_id=result.correlation_id,
        )


class RecordedLLM:
    """Serves the responses recorded for one node step, in order; calls nobody."""

    def __init__(self, seq: int, node: str, responses: Sequence[dict[str, Any]]) -> None:
        self._seq = seq
        self._node = node
        self._responses = [LLMUsage.model_validate(r) for r in responses]
        self._next = 0

    async def complete(self, request: LLMRequest) -> LLMUsage:
        if self._next >= len(self._responses):
            raise LedgerIntegrityError(
                self._seq,
                f"{self._node}: replay asked for response {self._next + 1}, "
                f"the ledger recorded {len(self._responses)}",
            )
        response = self._responses[self._next]
        self._next += 1
        return response
