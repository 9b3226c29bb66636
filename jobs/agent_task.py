"""One agent task, executed the way ``agent-platform run`` executes it, for a Dagster run.

The pieces are the CLI's: :func:`load_task_file`'s schema, the notification publisher of
``configs/notifications.yaml``, the supply-chain registry client, the model router (live
providers with credentials, else the provider simulator with the task's script), the
checkpointer and the :class:`AgentRunner` with its hash-chained ledger. What this module adds
is what a queued run needs around them: the task's identity (SHA-256 of its text, which is also
the inbox sensor's run key), the budget check before anything is spent, the providers the run
actually called, and the replay check of the finished run, all in one :class:`TaskOutcome`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import Engine

from agent_platform.commands.run import _event_sink, _registry
from agent_platform.config import (
    Settings,
    parse_yaml_text,
    project_root,
    translate_validation_error,
)
from agent_platform.db import create_engine_for
from agent_platform.errors import AgentPlatformError, ConfigError
from agent_platform.events import EventSink
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.inputs import read_text_bounded
from agent_platform.models.config import load_routing
from agent_platform.models.endpoints import select_mode
from agent_platform.models.simulation_profile import SimulationProfile, load_profile
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.llm import LLMRequest, LLMUsage
from agent_platform.orchestration.recorder import ledger_name
from agent_platform.orchestration.replay import replay_run
from agent_platform.orchestration.router_wiring import RoutedModels, live_models, simulated_models
from agent_platform.orchestration.runner import AgentRunner, RunResult
from agent_platform.orchestration.scripted import TaskFile
from agent_platform.preflight import check_backends
from agent_platform.schemas.policy import load_agent_policy
from agent_platform.state.ledger_replay import Ledger

__all__ = [
    "BudgetCapReachedError",
    "LoadedTask",
    "TaskOutcome",
    "check_budget",
    "execute_task",
    "load_task",
    "phase_providers",
    "task_id_of",
]


class BudgetCapReachedError(AgentPlatformError):
    """The day's or month's EUR cap is spent: the run is refused before any provider call."""


def task_id_of(text: str) -> str:
    """The task's identity: SHA-256 of its exact text (the inbox sensor's run key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadedTask:
    """A validated task file, its text and where it came from (a path or ``<run config>``)."""

    task: TaskFile
    text: str
    source: str

    @property
    def task_id(self) -> str:
        return task_id_of(self.text)


def load_task(*, text: str = "", path: str = "") -> LoadedTask:
    """The task from inline YAML ``text`` or from the file ``path`` (exactly one of them)."""
    if bool(text) == bool(path):
        raise ConfigError(
            "run config", "ops.agent_task.config", "task_yaml and task_path" if text else "neither",
            "exactly one of task_yaml (the task YAML itself) or task_path (a task file)",
        )  # fmt: skip
    source = "<run config>"
    if path:
        source = path
        chosen = Path(path) if Path(path).is_absolute() else project_root() / path
        text = read_text_bounded(chosen, limit_bytes=1024 * 1024, what="task file")
    data = parse_yaml_text(text, source)
    if not isinstance(data, dict):
        raise ConfigError(source, "<root>", data, "a mapping with title and description")
    try:
        return LoadedTask(TaskFile.model_validate(data), text, source)
    except ValidationError as exc:
        raise translate_validation_error(source, exc, data) from exc


def phase_providers(settings: Settings | None = None) -> tuple[int, list[str]]:
    """The active FinOps phase and the providers it allows (what a run may call)."""
    routing = load_routing(settings)
    finops = load_finops(settings, routing)
    phase = finops.active_phase
    return phase, sorted(finops.phase(phase).providers)


def check_budget(engine: Engine) -> None:
    """Raise :class:`BudgetCapReachedError` when today's or this month's cap is spent."""
    routing = load_routing()
    finops = load_finops(routing=routing)
    status = FinOpsBudget(finops, routing, open_store(engine, finops)).get_remaining_budget()
    for label, window in (("daily", status.day), ("monthly", status.month)):
        if window.remaining <= 0:
            raise BudgetCapReachedError(
                f"{label} budget cap reached: EUR {window.committed} committed and "
                f"{window.reserved} reserved of {window.cap} (window {window.key}); the run was "
                "refused before any provider call: resubmit when the window resets"
            )


class _ProviderLog:
    """The model client of the run, noting which providers answered."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.providers: set[str] = set()

    async def complete(self, request: LLMRequest) -> LLMUsage:
        usage: LLMUsage = await self._inner.complete(request)  # type: ignore[attr-defined]
        self.providers.add(usage.provider)
        return usage


@dataclass(frozen=True)
class TaskOutcome:
    """How the run ended, what it cost, and whether its ledger replays."""

    result: RunResult
    simulated: bool
    providers_used: list[str]
    ledger_seq: int
    ledger_head: str
    replay_ok: bool
    replay_detail: list[str] = field(default_factory=list)


@contextmanager
def _models(
    engine: Engine, loaded: LoadedTask, sink: EventSink | None, profile: SimulationProfile | None
) -> Iterator[RoutedModels]:
    """Live providers when credentials are set, else the simulator with the task's script."""
    if select_mode(os.environ) == "live":
        yield live_models(engine, sink=sink)
        return
    simulation = loaded.task.simulation
    if simulation is None:
        raise ConfigError(
            loaded.source, "simulation", None,
            "a simulation section with scripted responses (no provider credentials are set)",
        )  # fmt: skip
    with simulated_models(engine, list(simulation.responses), sink=sink, profile=profile) as models:
        yield models


@dataclass(frozen=True)
class TaskOptions:
    """Where the run's config files are (empty: the project's defaults)."""

    notifications_config: str = ""
    supply_chain_config: str = ""
    simulation_profile: str = ""

    def path(self, value: str) -> Path | None:
        if not value:
            return None
        return Path(value) if Path(value).is_absolute() else project_root() / value


def execute_task(loaded: LoadedTask, run_id: str, options: TaskOptions) -> TaskOutcome:
    """Run ``loaded`` as agent run ``run_id`` on the configured backends, then replay it."""
    settings = Settings.from_env()
    url = settings.effective_database_url
    check_backends(settings, with_redis=False)
    engine = create_engine_for(url)
    try:
        check_budget(engine)
        return asyncio.run(_execute(engine, url, loaded, run_id, options))
    finally:
        engine.dispose()


async def _execute(
    engine: Engine, url: str, loaded: LoadedTask, run_id: str, options: TaskOptions
) -> TaskOutcome:
    profile_path = options.path(options.simulation_profile)
    profile = load_profile(profile_path) if profile_path else None
    events = _event_sink(engine, options.path(options.notifications_config))
    with (
        _registry(options.path(options.supply_chain_config)) as registry,
        _models(engine, loaded, events, profile) as models,
    ):
        await asyncio.to_thread(models.warm_up)
        llm = _ProviderLog(models.llm)
        async with open_checkpointer(url) as checkpointer:
            runner = AgentRunner(
                engine=engine,
                checkpointer=checkpointer,
                llm=llm,
                policy=load_agent_policy(),
                registry=registry,
                events=events,
                budget_exhausted=models.llm.budget_exhausted,
            )
            result = await runner.run(loaded.task.task(), run_id=run_id)
        simulated = models.simulator is not None
    return await _outcome(engine, run_id, result, simulated, sorted(llm.providers))


async def _outcome(
    engine: Engine, run_id: str, result: RunResult, simulated: bool, providers: list[str]
) -> TaskOutcome:
    """The run's outcome with its ledger head and whether its audit replay matched."""
    replay = await replay_run(engine, run_id)
    seq, head = Ledger(engine, ledger_name(run_id)).head()
    return TaskOutcome(
        result=result,
        simulated=simulated,
        providers_used=providers,
        ledger_seq=seq,
        ledger_head=head,
        replay_ok=replay.ok,
        replay_detail=list(replay.mismatches),
    )
