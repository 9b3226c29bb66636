"""Schema of ``policies/agent_policy.yaml``: what the agent graph's policy guard enforces.

The guard (agent_platform.orchestration.guard) reads nothing but this model, so every rule it
applies is visible and reviewable in one YAML file, and a typo in that file is a ConfigError at
load time instead of a silently disabled rule.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent_platform.config import load_yaml_model, project_root

__all__ = [
    "DEFAULT_POLICY_PATH",
    "AgentPolicy",
    "CallPolicy",
    "DependencyPolicy",
    "SandboxLimits",
    "SecretPattern",
    "SecretPolicy",
    "load_agent_policy",
]

DEFAULT_POLICY_PATH = "policies/agent_policy.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return pattern


class SecretPattern(_Frozen):
    """One named regular expression that matches a credential format."""

    name: str = Field(min_length=1)
    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _compiles(value)


class SecretPolicy(_Frozen):
    """Hard-coded secret detection: known formats plus high-entropy assignments."""

    patterns: list[SecretPattern] = Field(min_length=1)
    sensitive_name_regex: str = Field(min_length=1)
    min_entropy_bits_per_char: float = Field(gt=0, le=8)
    min_length: int = Field(ge=8)

    @field_validator("sensitive_name_regex")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _compiles(value)


class CallPolicy(_Frozen):
    """Calls and imports generated code may not make.

    ``forbidden`` holds dotted names (``os.system``) or prefixes ending in ``*`` (``os.exec*``)
    or whole modules (``subprocess``, meaning every attribute of it); ``allowed`` lists exact
    dotted names exempted from ``forbidden``.
    """

    forbidden: list[str] = Field(min_length=1)
    allowed: list[str] = Field(default_factory=list)


class DependencyPolicy(_Frozen):
    """Proposed dependencies must exist on their registry; unverifiable ones fail closed."""

    ecosystem: Literal["python", "node"] = "python"
    max_dependencies: int = Field(default=20, ge=0)


class SandboxLimits(_Frozen):
    """Resource limits of the QA sandbox subprocess."""

    wall_timeout_s: float = Field(gt=0, le=600)
    cpu_s: int = Field(gt=0, le=600)
    memory_mb: int = Field(ge=64, le=16384)
    max_processes: int = Field(ge=4, le=4096)
    max_file_mb: int = Field(ge=1, le=4096)
    max_output_chars: int = Field(default=20000, ge=1000)
    unprivileged_uid: int = Field(default=65534, ge=1)
    require_network_isolation: bool = False


class AgentPolicy(_Frozen):
    """Everything the policy guard checks, and the refinement bound of the graph."""

    version: int = Field(ge=1)
    max_refinements: int = Field(ge=0, le=20)
    placeholder_markers: list[str] = Field(min_length=1)
    placeholders_in_string_literals: bool = True
    calls: CallPolicy
    secrets: SecretPolicy
    injection_markers: list[str] = Field(min_length=1)
    dependencies: DependencyPolicy = DependencyPolicy()
    sandbox: SandboxLimits

    @field_validator("placeholder_markers", "injection_markers")
    @classmethod
    def _non_blank(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip():
                raise ValueError("markers must be non-blank strings")
        return values


def load_agent_policy(path: Path | None = None) -> AgentPolicy:
    """Load and validate the agent policy (default ``policies/agent_policy.yaml``).

    Raises:
        ConfigError: naming the file, key, value and what is allowed.
    """
    return load_yaml_model(path or project_root() / DEFAULT_POLICY_PATH, AgentPolicy)
