"""Run the shipped scripted scenarios (``configs/scenarios/``) and report what they did.

The evidence job calls :func:`run_scenarios` (or :func:`run_scenarios_sync` from synchronous
code): every scenario runs through the real graph, guard, QA sandbox, checkpointer and ledger,
then is replayed from its ledger. Model answers are scripted (labelled ``simulated``); every
figure (node order, loops, violations, latency) is measured in that call. The replay's verdict
is kept with each run (``replay_ok`` and, when it failed, ``replay_detail``): a replay that
cannot reproduce the run is a finding, never an exception that hides the other runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.config import project_root
from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError, LedgerError
from agent_platform.events import EventSink
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.guard import RegistryChecker
from agent_platform.orchestration.llm import LLMClient
from agent_platform.orchestration.replay import ReplayResult, replay_run
from agent_platform.orchestration.router_wiring import simulated_models
from agent_platform.orchestration.runner import AgentRunner, RunResult
from agent_platform.orchestration.scripted import ScriptedResponse, TaskFile, load_task_file
from agent_platform.schemas.policy import AgentPolicy, load_agent_policy

__all__ = [
    "SCENARIO_DIR",
    "ScenarioFigures",
    "list_scenarios",
    "run_scenarios",
    "run_scenarios_sync",
]

SCENARIO_DIR = "configs/scenarios"

LLMFactory = Callable[[TaskFile], LLMClient]


@dataclass(frozen=True)
class ScenarioFigures:
    """What one scenario run did, measured in this run."""

    scenario: str
    run_id: str
    decision: str
    expected_decision: str | None
    history: list[str]
    expected_history: list[str] | None
    matches_expectation: bool
    refinements: int
    loops_taken: int
    violations_caught: int
    violation_rules: list[str]
    run_latency_ms: float
    cost_eur: float
    replay_ok: bool
    simulated: bool
    replay_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_scenarios(directory: Path | None = None) -> list[Path]:
    """The scenario files, sorted by name."""
    folder = directory or project_root() / SCENARIO_DIR
    return sorted(folder.glob("*.yaml"))


def _script(path: Path, task_file: TaskFile) -> list[ScriptedResponse]:
    if task_file.simulation is None:
        raise ConfigError(str(path), "simulation", None, "a simulation section with responses")
    return list(task_file.simulation.responses)


@asynccontextmanager
async def _client(
    engine: Engine, path: Path, task_file: TaskFile, factory: LLMFactory | None
) -> AsyncIterator[LLMClient]:
    if factory is not None:
        yield factory(task_file)
        return
    with simulated_models(engine, _script(path, task_file)) as models:
        # litellm is imported once per process, here, so no scenario's latency includes it.
        await asyncio.to_thread(models.warm_up)
        yield models.llm


async def _replay(engine: Engine, run_id: str) -> tuple[bool, str]:
    """Whether the run's replay from its ledger matched, and why not when it did not."""
    try:
        replay: ReplayResult = await replay_run(engine, run_id)
    except LedgerError as exc:
        return False, f"replay failed: {exc}"
    if replay.ok:
        return True, ""
    reasons = list(replay.mismatches)
    if not replay.ledger_ok:
        reasons.append(f"ledger: {replay.ledger_detail}")
    return False, "; ".join(reasons)


def _figures(
    path: Path, task_file: TaskFile, result: RunResult, replay: tuple[bool, str]
) -> ScenarioFigures:
    expect = task_file.simulation.expect if task_file.simulation else None
    decision = "approved" if result.approved else "rejected"
    rules = sorted({str(v["rule"]) for v in result.violations})
    matches = expect is None or (
        expect.decision == decision
        and (expect.history is None or expect.history == result.history)
        and (expect.refinements is None or expect.refinements == result.refinements)
        and (expect.violation_rule is None or expect.violation_rule in rules)
    )
    return ScenarioFigures(
        scenario=path.stem,
        run_id=result.run_id,
        decision=decision,
        expected_decision=expect.decision if expect else None,
        history=result.history,
        expected_history=expect.history if expect else None,
        matches_expectation=matches,
        refinements=result.refinements,
        loops_taken=max(result.history.count("coder") - 1, 0),
        violations_caught=len(result.violations),
        violation_rules=rules,
        run_latency_ms=result.latency_ms,
        cost_eur=result.cost_eur,
        replay_ok=replay[0],
        simulated=True,
        replay_detail=replay[1],
    )


async def run_scenarios(
    database_url: str,
    *,
    paths: list[Path] | None = None,
    policy: AgentPolicy | None = None,
    llm_factory: LLMFactory | None = None,
    registry: RegistryChecker | None = None,
    events: EventSink | None = None,
) -> list[ScenarioFigures]:
    """Run each scenario (default: every file in ``configs/scenarios/``) and replay it.

    ``database_url`` must point at a migrated database (PostgreSQL or SQLite). Model answers
    come from the scenario's script served by the provider simulator through the real router
    (or from ``llm_factory`` when given).
    """
    policy = policy or load_agent_policy()
    engine = create_engine_for(database_url)
    figures = []
    try:
        async with open_checkpointer(database_url) as checkpointer:
            for path in paths or list_scenarios():
                task_file = load_task_file(path)
                async with _client(engine, path, task_file, llm_factory) as llm:
                    runner = AgentRunner(
                        engine=engine,
                        checkpointer=checkpointer,
                        llm=llm,
                        policy=policy,
                        registry=registry,
                        events=events,
                    )
                    result = await runner.run(task_file.task())
                replay = await _replay(engine, result.run_id)
                figures.append(_figures(path, task_file, result, replay))
    finally:
        engine.dispose()
    return figures


def run_scenarios_sync(database_url: str, **kwargs: Any) -> list[ScenarioFigures]:
    """:func:`run_scenarios` for synchronous callers (not from inside an event loop)."""
    return asyncio.run(run_scenarios(database_url, **kwargs))
