"""The agent graph: planner, coder, critic, qa and approver under a policy guard.

Public API (the rest are internals of the package)::

    AgentRunner(engine=, checkpointer=, llm=, policy=, ...).run(task) / .resume(run_id)
                                             (RunFinishedError: that run already finished)
    open_checkpointer(database_url)          LangGraph's PostgreSQL / SQLite checkpointer
    replay_run(engine, run_id)               audit replay from the ledger alone
    PolicyGuard(policy, registry)            the guard every node passes
    PytestSandbox(limits).run(files)         the QA sandbox
    export_snapshot / load_snapshot          topology <-> YAML
    run_scenarios(database_url)              the shipped scripted scenarios, measured
"""

from __future__ import annotations

from agent_platform.orchestration.checkpointing import open_checkpointer
from agent_platform.orchestration.guard import PolicyGuard, RegistryChecker
from agent_platform.orchestration.llm import LLMClient, LLMRequest, RouterLLM
from agent_platform.orchestration.replay import ReplayResult, replay_run
from agent_platform.orchestration.runner import AgentRunner, RunFinishedError, RunResult
from agent_platform.orchestration.sandbox import PytestSandbox
from agent_platform.orchestration.scenarios import (
    ScenarioFigures,
    run_scenarios,
    run_scenarios_sync,
)
from agent_platform.orchestration.scripted import ScriptedLLM, TaskFile, load_task_file
from agent_platform.orchestration.snapshot import export_snapshot, load_snapshot
from agent_platform.orchestration.topology import Topology, default_topology
from agent_platform.orchestration.types import (
    CodeBundle,
    CriticVerdict,
    Decision,
    GraphState,
    Plan,
    QAResult,
    TaskSpec,
    Violation,
    state_hash,
)

__all__ = [
    "AgentRunner",
    "CodeBundle",
    "CriticVerdict",
    "Decision",
    "GraphState",
    "LLMClient",
    "LLMRequest",
    "Plan",
    "PolicyGuard",
    "PytestSandbox",
    "QAResult",
    "RegistryChecker",
    "ReplayResult",
    "RouterLLM",
    "RunFinishedError",
    "RunResult",
    "ScenarioFigures",
    "ScriptedLLM",
    "TaskFile",
    "TaskSpec",
    "Topology",
    "Violation",
    "default_topology",
    "export_snapshot",
    "load_snapshot",
    "load_task_file",
    "open_checkpointer",
    "replay_run",
    "run_scenarios",
    "run_scenarios_sync",
    "state_hash",
]
