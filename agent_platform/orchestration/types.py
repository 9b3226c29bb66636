"""Typed node outputs and the graph state of the agent run.

Node outputs are pydantic models (validated when parsed from an LLM answer); the graph state
holds their JSON dumps so it is checkpointable and hashable through canonical JSON, and so the
ledger entry of a node is exactly what the next node reads.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from agent_platform.canonical import content_hash

__all__ = [
    "NODE_NAMES",
    "NODE_TASKS",
    "CodeBundle",
    "CriticVerdict",
    "Decision",
    "GraphState",
    "LLMUsage",
    "Plan",
    "QAResult",
    "TaskSpec",
    "Violation",
    "state_hash",
]

NODE_NAMES: tuple[str, ...] = ("planner", "coder", "critic", "qa", "approver")

# Which router task type serves each node (qa runs tests, it asks no model).
NODE_TASKS: dict[str, str | None] = {
    "planner": "planning",
    "coder": "coding",
    "critic": "review",
    "qa": None,
    "approver": "review",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TaskSpec(_Model):
    """A coding task: what to build and, optionally, tests it must pass."""

    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    acceptance_tests: dict[str, str] = Field(default_factory=dict)


class Plan(_Model):
    """The planner's output."""

    steps: list[str] = Field(min_length=1)
    files_to_write: list[str] = Field(min_length=1)
    test_strategy: str = Field(min_length=1)


class CodeBundle(_Model):
    """The coder's output: file path -> content (tests included) and proposed dependencies."""

    files: dict[str, str] = Field(min_length=1)
    dependencies: list[str] = Field(default_factory=list)
    notes: str = ""


class CriticVerdict(_Model):
    """The critic's verdict on the code."""

    needs_refinement: bool
    reasons: list[str] = Field(default_factory=list)


class QAResult(_Model):
    """What the sandboxed pytest run reported (parsed from its JUnit XML)."""

    tests_run: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    errors: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)
    ok: bool
    failures: list[str] = Field(default_factory=list)
    output: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    limit_hit: str | None = None
    network_isolated: bool = False
    isolation: dict[str, str] = Field(default_factory=dict)
    duration_ms: float = 0.0


class Decision(_Model):
    """How the run ended: approved or rejected, by whom, and why."""

    approved: bool
    reasons: list[str] = Field(default_factory=list)
    decided_by: str


class Violation(_Model):
    """One policy violation the guard found."""

    node: str
    stage: Literal["input", "output", "budget"]
    rule: str
    detail: str
    path: str | None = None
    line: int | None = None

    def reason(self) -> str:
        where = f" ({self.path}:{self.line})" if self.path and self.line else ""
        where = where or (f" ({self.path})" if self.path else "")
        return f"{self.node} {self.stage}: {self.rule}: {self.detail}{where}"


class LLMUsage(_Model):
    """One LLM response a node used, as recorded in the ledger."""

    content: str
    provider: str
    model: str
    task: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_eur: float = 0.0
    simulated: bool = True
    correlation_id: str = ""


class GraphState(TypedDict, total=False):
    """The state LangGraph checkpoints; every value is plain JSON."""

    task: dict[str, Any]
    plan: dict[str, Any] | None
    code: dict[str, Any] | None
    verdict: dict[str, Any] | None
    qa: dict[str, Any] | None
    decision: dict[str, Any] | None
    feedback: list[str]
    refinements: int
    step: int
    history: list[str]
    violations: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    cost_eur: float


def state_hash(state: GraphState | dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the state (run-independent: no run id inside)."""
    return content_hash(dict(state))
