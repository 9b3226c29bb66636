"""Helpers for testing code that runs the agent graph (shipped, like ``structlog.testing``).

Stand-ins for the seams only: an event sink that records, a registry answering from a dict,
a model client wrapper that counts calls. The graph, guard, sandbox, checkpointer and ledger
under test stay real.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_platform.config import project_root
from agent_platform.events import RecordingSink
from agent_platform.orchestration.llm import LLMClient, LLMRequest
from agent_platform.orchestration.scenarios import SCENARIO_DIR
from agent_platform.orchestration.types import LLMUsage

__all__ = ["CountingLLM", "DictRegistry", "RecordingSink", "scenario_path"]


def scenario_path(name: str) -> Path:
    """The shipped scenario file ``configs/scenarios/<name>.yaml``."""
    return project_root() / SCENARIO_DIR / f"{name}.yaml"


@dataclass(frozen=True)
class DictRegistry:
    """A registry checker answering from ``{"ecosystem:name": True | False | None}``."""

    answers: dict[str, bool | None]

    def exists(self, ecosystem: str, name: str) -> bool | None:
        return self.answers.get(f"{ecosystem}:{name}")


class CountingLLM:
    """Wraps a model client and counts the completions it served."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner
        self.calls = 0

    async def complete(self, request: LLMRequest) -> LLMUsage:
        self.calls += 1
        return await self.inner.complete(request)
