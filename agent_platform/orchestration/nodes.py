"""The five node bodies of the agent graph, and where each step takes its inputs from.

A node body produces a typed output from the state (model-backed nodes through the
:class:`LLMClient`, QA through the sandbox). :func:`step_sources` decides where a step's
inputs come from: live, or, for a step already in the ledger (a resumed or replayed run), the
LLM answers, QA result and registry answers the ledger recorded, so nobody is called again.
The policy guard, the state update and the ledger entry around each body are added when the
graph is built (:func:`agent_platform.orchestration.graph_builder.make_node`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from agent_platform.errors import LedgerIntegrityError
from agent_platform.events import EventSink
from agent_platform.orchestration.guard import PolicyGuard, RecordedRegistry
from agent_platform.orchestration.ledger_gate import LedgerPipeline
from agent_platform.orchestration.llm import LLMClient, LLMRequest, RecordedLLM
from agent_platform.orchestration.parsing import ParseFailure, parse_output
from agent_platform.orchestration.prompts import build_prompt
from agent_platform.orchestration.recorder import Event, RunRecord, RunRecorder
from agent_platform.orchestration.transitions import node_input
from agent_platform.orchestration.types import (
    NODE_TASKS,
    CodeBundle,
    CriticVerdict,
    Decision,
    GraphState,
    LLMUsage,
    Plan,
    QAResult,
    TaskSpec,
)

__all__ = [
    "NODE_BODIES",
    "LedgerItem",
    "NodeBody",
    "NodeEnv",
    "Notice",
    "QARunner",
    "StepSources",
    "outbox_writer",
    "run_end_notice",
    "step_sources",
]

QARunner = Callable[[dict[str, str]], QAResult]


Notice = tuple[str, dict[str, Any]]
"""An event for the notification outbox: (event type, payload)."""


@dataclass(frozen=True)
class LedgerItem:
    """Ledger events committed together for one step, with the notices they announce (whose
    outbox rows commit in the same transaction)."""

    events: list[Event]
    notices: tuple[Notice, ...] = ()
    finishes_run: bool = False


def run_end_notice(run_id: str, finished: dict[str, Any]) -> Notice:
    """``agent_run.approved`` or ``agent_run.rejected`` for a run's ``run_finished`` payload."""
    decision = finished.get("decision")
    approved = bool(decision and decision.get("approved"))
    payload = {
        "run_id": run_id,
        "decision": decision,
        "history": finished.get("history"),
        "cost_eur": finished.get("cost_eur"),
    }
    return ("agent_run.approved" if approved else "agent_run.rejected", payload)


def outbox_writer(
    events: EventSink | None, run_id: str, notices: Sequence[Notice]
) -> Callable[[Connection], None] | None:
    """What writes ``notices`` to ``events`` on the caller's connection (None: nothing to do)."""
    if events is None or not notices:
        return None
    sink = events

    def write(conn: Connection) -> None:
        for kind, payload in notices:
            sink.publish(kind, payload, correlation_id=run_id, connection=conn)

    return write


_TOKEN_BUDGET = {"planning": 1024, "coding": 4096, "review": 1024}


class _ApproverAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    approved: bool
    reasons: list[str] = Field(default_factory=list)


@dataclass
class NodeEnv:
    """What the nodes of one run share: policy guard, model client, QA runner, ledger.

    With ``pipeline`` (the checkpointer is gated on it) a node's ledger entry is committed in
    the background, ahead of the node's checkpoint; without it the node awaits the commit.
    """

    run_id: str
    guard: PolicyGuard
    llm: LLMClient
    qa_runner: QARunner
    recorder: RunRecorder | None = None
    record: RunRecord | None = None
    events: EventSink | None = None
    budget_exhausted: Callable[[str], bool] | None = None
    pipeline: LedgerPipeline[LedgerItem] | None = None
    mismatches: list[str] = field(default_factory=list)
    finished_recorded: bool = False

    @property
    def max_refinements(self) -> int:
        return self.guard.policy.max_refinements


@dataclass
class StepSources:
    """The sources of one step: live, or what the ledger recorded for it."""

    step: int
    llm: LLMClient
    guard: PolicyGuard
    recorded: dict[str, Any] | None
    usages: list[LLMUsage] = field(default_factory=list)
    budget_error: str | None = None

    def budget_block(self, node: str, env: NodeEnv) -> str | None:
        """Why the budget forbids this step: recorded, or asked of the router now."""
        if self.recorded is not None:
            return self.recorded.get("budget_error")
        task = NODE_TASKS[node]
        if task and env.budget_exhausted is not None and env.budget_exhausted(task):
            return f"the router reports the {task} budget exhausted"
        return None


def step_sources(env: NodeEnv, node: str, step: int) -> StepSources:
    """Live sources for ``step``, or the recorded ones when the ledger already holds it."""
    found = env.record.node_at_step(step) if env.record else None
    if found is None:
        return StepSources(step, env.llm, env.guard, None)
    seq, payload = found
    if payload["node"] != node:
        raise LedgerIntegrityError(seq, f"step {step} was {payload['node']}, replay ran {node}")
    llm = RecordedLLM(seq, node, payload.get("llm_responses") or [])
    registry = RecordedRegistry(dict(payload.get("registry_lookups") or {}))
    return StepSources(step, llm, PolicyGuard(env.guard.policy, registry), payload)


NodeBody = Callable[[GraphState, StepSources, NodeEnv], Awaitable[BaseModel | ParseFailure]]
"""A node's work: its typed output (or why the answer did not parse) from the state."""


async def _ask(node: str, state: GraphState, src: StepSources, env: NodeEnv) -> str:
    task = NODE_TASKS[node] or "review"
    attempt = (state.get("history") or []).count(node) + 1
    prompt = build_prompt(node, attempt, node_input(node, state))
    request = LLMRequest(
        node=node,
        task=task,
        prompt=prompt,
        answer_tokens=_TOKEN_BUDGET[task],
        correlation_id=f"{env.run_id}:{src.step}",
    )
    usage = await src.llm.complete(request)
    src.usages.append(usage)
    return usage.content


async def _planner(state: GraphState, src: StepSources, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("planner", await _ask("planner", state, src, env), Plan)


async def _coder(state: GraphState, src: StepSources, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("coder", await _ask("coder", state, src, env), CodeBundle)


async def _critic(state: GraphState, src: StepSources, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("critic", await _ask("critic", state, src, env), CriticVerdict)


async def _qa(state: GraphState, src: StepSources, env: NodeEnv) -> BaseModel | ParseFailure:
    if src.recorded is not None:
        return QAResult.model_validate(src.recorded["output"])
    code = CodeBundle.model_validate(state.get("code") or {})
    task = TaskSpec.model_validate(state.get("task") or {})
    files = {**code.files, **task.acceptance_tests}
    return await asyncio.to_thread(env.qa_runner, files)


async def _approver(state: GraphState, src: StepSources, env: NodeEnv) -> BaseModel | ParseFailure:
    answer = parse_output("approver", await _ask("approver", state, src, env), _ApproverAnswer)
    if isinstance(answer, ParseFailure):
        return answer
    return Decision(approved=answer.approved, reasons=answer.reasons, decided_by="approver")


NODE_BODIES: dict[str, NodeBody] = {
    "planner": _planner,
    "coder": _coder,
    "critic": _critic,
    "qa": _qa,
    "approver": _approver,
}
