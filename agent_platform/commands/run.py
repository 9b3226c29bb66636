"""``agent-platform run TASK.yaml`` and ``agent-platform replay RUN_ID``.

``run`` drives the agent graph with a live progress display (each node as it finishes, the
refinement loops, the final decision, the cost in EUR and the run id). ``--interrupt-before
NODE`` pauses the run durably before that node (LangGraph ``interrupt_before``); ``--resume
RUN_ID`` continues a paused or killed run from its last checkpoint. ``replay`` re-executes a
finished run from its ledger alone, calls no provider, and checks its state hash and hash chain.

What the run is wired to: the dependencies the coder proposes are looked up through
:class:`~agent_platform.supply_chain.RegistryClient` (``configs/supply_chain.yaml``; a registry
that cannot answer is a violation: fail closed); when ``configs/notifications.yaml`` enables a
destination, the run's events (approved, rejected, policy violation) and the router's budget
alerts go to the :class:`~agent_platform.notifications.NotificationPublisher` outbox, delivered
by ``agent-platform notify dispatch``. litellm (seconds to import) is loaded before the first
node, with a note, so the progress display does not stall on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy.engine import Engine

from agent_platform.config import Settings, project_root
from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError, InvalidInputError
from agent_platform.events import EventSink
from agent_platform.models.endpoints import select_mode
from agent_platform.notifications import NotificationPublisher, load_notifications_config
from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.replay import replay_run
from agent_platform.orchestration.router_wiring import RoutedModels, live_models, simulated_models
from agent_platform.orchestration.run_catalog import recent_runs
from agent_platform.orchestration.runner import AgentRunner, RunResult
from agent_platform.orchestration.scripted import TaskFile, load_task_file
from agent_platform.orchestration.types import NODE_NAMES
from agent_platform.preflight import check_backends
from agent_platform.schemas.policy import AgentPolicy, load_agent_policy
from agent_platform.supply_chain import RegistryClient, load_supply_chain_config

__all__ = ["describe_update", "register"]


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the agent graph on a task file")
    run.add_argument("task_file", type=Path, help="task YAML (title, description, ...)")
    run.add_argument("--run-id", help="the id of a new run (default: random)")
    run.add_argument("--resume", metavar="RUN_ID", help="continue a paused or killed run")
    run.add_argument(
        "--interrupt-before",
        action="append",
        default=[],
        choices=NODE_NAMES,
        help="pause the run durably before this node (repeatable)",
    )
    run.add_argument(
        "--notifications-config", type=Path, help="notifications YAML (default: configs/)"
    )
    run.add_argument("--supply-chain-config", type=Path, help="registries YAML (default: configs/)")
    run.set_defaults(handler=run_command)
    replay = subparsers.add_parser("replay", help="replay a finished run from its ledger")
    replay.add_argument("run_id", help="a run id, or 'last' for the newest (runs list shows them)")
    replay.set_defaults(handler=replay_command)


def describe_update(node: str, update: dict[str, Any]) -> str:
    """One human line for what a node just did."""
    decision = update.get("decision")
    if decision and decision.get("decided_by") == "policy_guard":
        return "[red]policy violation[/]: " + "; ".join(decision.get("reasons", []))[:200]
    text = _OUTCOMES.get(node, lambda u: "")(update)
    if decision and node != "approver":
        text += " -> [red]rejected[/]: " + "; ".join(decision.get("reasons", []))[:160]
    if update.get("feedback"):
        text += f" -> [yellow]back to coder (refinement {update.get('refinements')})[/]"
    return text


def _qa_text(update: dict[str, Any]) -> str:
    qa = update.get("qa") or {}
    text = f"{qa.get('passed', 0)} passed, {qa.get('failed', 0)} failed"
    if qa.get("limit_hit"):
        text += f" ({qa['limit_hit']})"
    return text + ("" if qa.get("network_isolated") else " [network not isolated]")


_OUTCOMES: dict[str, Any] = {
    "planner": lambda u: f"{len((u.get('plan') or {}).get('steps', []))} steps",
    "coder": lambda u: f"{len((u.get('code') or {}).get('files', {}))} files",
    "critic": lambda u: "refine" if (u.get("verdict") or {}).get("needs_refinement") else "pass",
    "qa": _qa_text,
    "approver": lambda u: (
        "[green]approved[/]" if (u.get("decision") or {}).get("approved") else "[red]rejected[/]"
    ),
}


@contextmanager
def _models(
    engine: Engine, task_file: TaskFile, path: Path, sink: EventSink | None
) -> Iterator[RoutedModels]:
    """Live providers when credentials are set, else the simulator with the file's script."""
    if select_mode(os.environ) == "live":
        yield live_models(engine, sink=sink)
        return
    if task_file.simulation is None:
        raise ConfigError(
            str(path),
            "simulation",
            None,
            "a simulation section with scripted responses (no provider credentials are set)",
        )
    with simulated_models(engine, list(task_file.simulation.responses), sink=sink) as models:
        yield models


def _event_sink(engine: Engine, path: Path | None) -> NotificationPublisher | None:
    """The notification publisher when the config enables a destination, else None."""
    publisher = NotificationPublisher(engine, load_notifications_config(path))
    return publisher if publisher.destinations else None


@contextmanager
def _registry(path: Path | None) -> Iterator[RegistryClient]:
    """The registry client of the supply-chain config, closed after the run."""
    config = load_supply_chain_config(path)
    with RegistryClient.from_config(config.registries, config.cache, project_root()) as client:
        yield client


@dataclass(frozen=True)
class _Wiring:
    """What a run is connected to besides its database."""

    models: RoutedModels
    registry: RegistryClient
    events: NotificationPublisher | None


def _table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(title="agent run", expand=False)
    for column in ("step", "node", "outcome"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


async def _run(args: argparse.Namespace, console: Console) -> tuple[RunResult, bool]:
    settings = Settings.from_env()
    url = settings.effective_database_url
    task_file = load_task_file(args.task_file)
    policy = load_agent_policy()
    check_backends(settings, with_redis=False)
    engine = create_engine_for(url)
    try:
        events = _event_sink(engine, args.notifications_config)
        with (
            _registry(args.supply_chain_config) as registry,
            _models(engine, task_file, args.task_file, events) as models,
        ):
            wiring = _Wiring(models, registry, events)
            _announce(console, wiring, settings.database_backend)
            await asyncio.to_thread(models.warm_up)
            result = await _drive(args, console, engine, url, policy, task_file, wiring)
            return result, models.simulator is not None
    finally:
        engine.dispose()


def _announce(console: Console, wiring: _Wiring, backend: str) -> None:
    events = wiring.events
    where = f"notification outbox ({', '.join(events.destinations)})" if events else "none"
    console.print(f"models: {wiring.models.label}; database: {backend}")
    console.print(
        f"dependencies checked on {wiring.registry.config.pypi_url} / "
        f"{wiring.registry.config.npm_url}; events: {where}"
    )
    console.print("loading the model client (litellm)...")


async def _drive(
    args: argparse.Namespace,
    console: Console,
    engine: Engine,
    url: str,
    policy: AgentPolicy,
    task_file: TaskFile,
    wiring: _Wiring,
) -> RunResult:
    rows: list[tuple[str, str, str]] = []
    async with open_checkpointer(url) as checkpointer:
        runner = AgentRunner(
            engine=engine,
            checkpointer=checkpointer,
            llm=wiring.models.llm,
            policy=policy,
            registry=wiring.registry,
            events=wiring.events,
            budget_exhausted=wiring.models.llm.budget_exhausted,
        )
        with Live(_table(rows), console=console, refresh_per_second=8) as live:

            def on_update(node: str, update: dict[str, Any]) -> None:
                rows.append((str(update.get("step", "")), node, describe_update(node, update)))
                live.update(_table(rows))

            if args.resume:
                return await runner.resume(
                    args.resume, interrupt_before=args.interrupt_before, on_update=on_update
                )
            return await runner.run(
                task_file.task(),
                run_id=args.run_id,
                interrupt_before=args.interrupt_before,
                on_update=on_update,
            )


def _summary(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "status": result.status,
        "decision": result.decision,
        "history": result.history,
        "refinements": result.refinements,
        "violations": result.violations,
        "cost_eur": result.cost_eur,
        "final_state_hash": result.final_state_hash,
        "paused_before": list(result.paused_before),
        "latency_ms": result.latency_ms,
    }


def run_command(args: argparse.Namespace) -> int:
    """Run (or resume) the task; exit 0 approved, 3 paused, 4 rejected.

    The progress table and the verdict are human text (stderr with ``--json``); the summary
    of :func:`_summary` is the JSON document.
    """
    console = args.output.console()
    result, simulated = asyncio.run(_run(args, console))
    console.print()
    if result.status == "paused":
        console.print(
            f"run [bold]{result.run_id}[/] paused before {', '.join(result.paused_before)}; "
            f"continue with: agent-platform run {args.task_file} --resume {result.run_id}"
        )
    else:
        verdict = "[green]APPROVED[/]" if result.approved else "[red]REJECTED[/]"
        reasons = "; ".join((result.decision or {}).get("reasons", []))
        console.print(f"decision: {verdict} ({reasons})")
        console.print(
            f"refinement loops: {result.refinements}; cost: EUR {result.cost_eur:.6f} "
            f"({'simulated providers' if simulated else 'real providers'}); "
            f"run id: [bold]{result.run_id}[/]"
        )
    args.output.result({**_summary(result), "simulated": simulated})
    if result.status == "paused":
        return 3
    return 0 if result.approved else 4


def _resolve_run_id(engine: Engine, run_id: str) -> str:
    """``run_id`` itself, or for ``last`` the newest run recorded in the database."""
    if run_id != "last":
        return run_id
    newest = recent_runs(engine, limit=1)
    if not newest:
        raise InvalidInputError("replay last: the database holds no agent run yet")
    return newest[0].run_id


def replay_command(args: argparse.Namespace) -> int:
    """Replay a finished run from its ledger; exit 0 when state and chain match, else 1."""
    settings = Settings.from_env()
    check_backends(settings, with_redis=False)
    engine = create_engine_for(settings.effective_database_url)
    try:
        result = asyncio.run(replay_run(engine, _resolve_run_id(engine, args.run_id)))
    finally:
        engine.dispose()
    out = args.output
    state = "OK" if result.ok else "MISMATCH"
    out.say(f"replay {state}: run {result.run_id}, {result.steps} steps, nodes {result.history}")
    out.say(f"final state hash {result.final_state_hash} (recorded {result.recorded_state_hash})")
    out.say(f"ledger chain: {'intact' if result.ledger_ok else result.ledger_detail}")
    for mismatch in result.mismatches:
        out.say(f"  mismatch: {mismatch}")
    out.result(result.as_dict())
    return 0 if result.ok else 1
