"""Scripted scenarios: a task plus the model answers to give, matched on the prompt.

A scenario file is a task file (``title``, ``description``, ``acceptance_tests``) with a
``simulation`` section: the scripted ``responses`` (first rule whose ``match`` strings all occur
in the prompt wins; prompts start with ``[agent_platform node=NAME attempt=N]``) and what the
run is expected to do. :class:`ScriptedLLM` answers from such a script in-process (unit tests,
the benchmark); offline CLI runs serve the same script through the provider simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent_platform.config import load_yaml_model
from agent_platform.errors import InvalidInputError
from agent_platform.orchestration.llm import LLMRequest
from agent_platform.orchestration.types import LLMUsage, TaskSpec

__all__ = [
    "ScenarioExpectation",
    "ScriptedLLM",
    "ScriptedResponse",
    "Simulation",
    "TaskFile",
    "load_task_file",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScriptedResponse(_Frozen):
    """Answer ``content`` to the first prompt containing every string in ``match``."""

    match: list[str] = Field(min_length=1)
    content: str

    @field_validator("match", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class ScenarioExpectation(_Frozen):
    """What a scripted run must do (checked by the scenario runner)."""

    decision: Literal["approved", "rejected"]
    history: list[str] | None = None
    refinements: int | None = Field(default=None, ge=0)
    violation_rule: str | None = None


class Simulation(_Frozen):
    responses: list[ScriptedResponse] = Field(min_length=1)
    expect: ScenarioExpectation | None = None


class TaskFile(_Frozen):
    """A task YAML: the task itself, optionally with a scripted simulation."""

    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    acceptance_tests: dict[str, str] = Field(default_factory=dict)
    simulation: Simulation | None = None

    def task(self) -> TaskSpec:
        return TaskSpec(
            title=self.title, description=self.description, acceptance_tests=self.acceptance_tests
        )


def load_task_file(path: Path) -> TaskFile:
    """Load a task file; a bad one is a ConfigError naming file, key, value and what is allowed."""
    return load_yaml_model(path, TaskFile)


class ScriptedLLM:
    """Answers prompts from scripted responses, in-process; every answer is labelled simulated."""

    def __init__(self, responses: list[ScriptedResponse], *, provider: str = "scripted") -> None:
        self._responses = list(responses)
        self._provider = provider
        self.calls = 0

    async def complete(self, request: LLMRequest) -> LLMUsage:
        for rule in self._responses:
            if all(part in request.prompt for part in rule.match):
                self.calls += 1
                return LLMUsage(
                    content=rule.content,
                    provider=self._provider,
                    model="scripted",
                    task=request.task,
                    prompt_tokens=len(request.prompt) // 4,
                    completion_tokens=len(rule.content) // 4,
                    cost_eur=0.0,
                    simulated=True,
                    correlation_id=request.correlation_id,
                )
        header = request.prompt.splitlines()[0] if request.prompt else ""
        raise InvalidInputError(f"no scripted response matches the prompt {header!r}")
