"""``configs/agent_runs.yaml``: the queue limits of agent runs and the inbox the sensor watches.

The limits are Dagster's own (``max_concurrent_runs`` and ``tag_concurrency_limits`` of the
``QueuedRunCoordinator``): this module turns the config into those settings and into the tags
each agent run carries, so the limits and the tags they match are written in one place. The
file is read with the project's bounded YAML loader; a bad value is a one-line ConfigError
naming file, key, value and what is allowed. ``AGENT_PLATFORM_AGENT_RUNS_CONFIG`` points at
another file (tests, a second instance).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agent_platform.config import load_yaml_model, project_root

__all__ = [
    "CONFIG_ENV",
    "PHASE_TAG",
    "PROVIDERS_TAG",
    "PROVIDER_TAG_PREFIX",
    "TASK_TAG",
    "AgentRunsConfig",
    "load_agent_runs_config",
    "run_tags",
    "tag_concurrency_limits",
]

CONFIG_ENV = "AGENT_PLATFORM_AGENT_RUNS_CONFIG"
DEFAULT_CONFIG = "configs/agent_runs.yaml"

TASK_TAG = "agent_platform/task_id"
PHASE_TAG = "agent_platform/phase"
PROVIDERS_TAG = "agent_platform/providers"
PROVIDER_TAG_PREFIX = "agent_platform/provider_"
"""One tag per provider a run may call (``agent_platform/provider_openai: "1"``): Dagster's tag
limits match one key, so a comma-joined list could not be limited per provider."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueLimits(_Frozen):
    """How many agent runs may be in progress at once, overall, per phase and per provider, and
    how many the daemon may launch at once (0: one after the other, Dagster's default)."""

    max_concurrent_runs: int = Field(default=4, ge=1, le=10_000)
    per_phase: int = Field(default=4, ge=1, le=10_000)
    per_provider: dict[str, int] = Field(default_factory=dict)
    launch_workers: int = Field(default=4, ge=0, le=64)


class InboxConfig(_Frozen):
    """The folder the inbox sensor turns task files from into runs."""

    folder: str = Field(default=".data/agent_inbox", min_length=1)
    interval_s: int = Field(default=30, ge=1, le=86_400)
    max_per_tick: int = Field(default=50, ge=1, le=10_000)

    def path(self) -> Path:
        folder = Path(self.folder)
        return folder if folder.is_absolute() else project_root() / folder


class AgentRunsConfig(_Frozen):
    queue: QueueLimits = Field(default_factory=QueueLimits)
    inbox: InboxConfig = Field(default_factory=InboxConfig)


def load_agent_runs_config(path: Path | None = None) -> AgentRunsConfig:
    """``path``, else ``$AGENT_PLATFORM_AGENT_RUNS_CONFIG``, else ``configs/agent_runs.yaml``."""
    chosen = path or Path(os.environ.get(CONFIG_ENV) or project_root() / DEFAULT_CONFIG)
    return load_yaml_model(chosen, AgentRunsConfig)


def tag_concurrency_limits(config: AgentRunsConfig) -> list[dict[str, object]]:
    """The ``tag_concurrency_limits`` of the QueuedRunCoordinator for these limits."""
    limits: list[dict[str, object]] = [
        {
            "key": PHASE_TAG,
            "value": {"applyLimitPerUniqueValue": True},
            "limit": config.queue.per_phase,
        }
    ]
    for provider, limit in sorted(config.queue.per_provider.items()):
        limits.append({"key": PROVIDER_TAG_PREFIX + provider, "limit": limit})
    return limits


def run_tags(task_id: str, phase: int, providers: Iterable[str]) -> dict[str, str]:
    """The tags of an agent run: what the queue limits match and what the UI filters on."""
    names = sorted(set(providers))
    tags = {TASK_TAG: task_id, PHASE_TAG: str(phase), PROVIDERS_TAG: ",".join(names)}
    tags.update({PROVIDER_TAG_PREFIX + name: "1" for name in names})
    return tags
