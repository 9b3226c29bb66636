"""The five nodes of the agent graph, each wrapped by the policy guard and the ledger.

A node body produces a typed output from the state (model-backed nodes through the
:class:`LLMClient`, QA through the sandbox). :func:`make_node` wraps every body the same way:
guard the input, refuse to run on an exhausted budget, run the body, parse and guard the
output, compute the state update (:mod:`transitions`), append the ledger entry, publish a
policy-violation event. Steps already in the ledger (a resumed or replayed run) take their LLM
answers, QA result and registry answers from it instead of calling anyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent_platform.errors import BudgetExceededError, LedgerIntegrityError
from agent_platform.events import EventSink
from agent_platform.orchestration.guard import GuardReport, PolicyGuard, RecordedRegistry
from agent_platform.orchestration.llm import LLMClient, LLMRequest, RecordedLLM
from agent_platform.orchestration.parsing import ParseFailure, parse_output
from agent_platform.orchestration.prompts import build_prompt
from agent_platform.orchestration.recorder import RunRecord, RunRecorder
from agent_platform.orchestration.transitions import (
    apply_output,
    failure_update,
    node_input,
    violation_update,
)
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
    Violation,
    state_hash,
)

__all__ = ["NodeEnv", "NodeFn", "QARunner", "make_node"]

NodeFn = Callable[[GraphState], Awaitable[dict[str, Any]]]
QARunner = Callable[[dict[str, str]], QAResult]

_TOKEN_BUDGET = {"planning": 1024, "coding": 4096, "review": 1024}


class _ApproverAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    approved: bool
    reasons: list[str] = Field(default_factory=list)


@dataclass
class NodeEnv:
    """What the nodes of one run share: policy guard, model client, QA runner, ledger."""

    run_id: str
    guard: PolicyGuard
    llm: LLMClient
    qa_runner: QARunner
    recorder: RunRecorder | None = None
    record: RunRecord | None = None
    events: EventSink | None = None
    budget_exhausted: Callable[[str], bool] | None = None
    mismatches: list[str] = field(default_factory=list)
    finished_recorded: bool = False

    @property
    def max_refinements(self) -> int:
        return self.guard.policy.max_refinements


@dataclass
class _Step:
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


def _step_sources(env: NodeEnv, node: str, step: int) -> _Step:
    found = env.record.node_at_step(step) if env.record else None
    if found is None:
        return _Step(step, env.llm, env.guard, None)
    seq, payload = found
    if payload["node"] != node:
        raise LedgerIntegrityError(seq, f"step {step} was {payload['node']}, replay ran {node}")
    llm = RecordedLLM(seq, node, payload.get("llm_responses") or [])
    registry = RecordedRegistry(dict(payload.get("registry_lookups") or {}))
    return _Step(step, llm, PolicyGuard(env.guard.policy, registry), payload)


async def _ask(node: str, state: GraphState, src: _Step, env: NodeEnv) -> str:
    task = NODE_TASKS[node] or "review"
    attempt = (state.get("history") or []).count(node) + 1
    prompt = build_prompt(node, attempt, node_input(node, state))
    request = LLMRequest(
        node=node,
        task=task,
        prompt=prompt,
        token_estimate=len(prompt) // 4 + _TOKEN_BUDGET[task],
        correlation_id=f"{env.run_id}:{src.step}",
    )
    usage = await src.llm.complete(request)
    src.usages.append(usage)
    return usage.content


async def _planner(state: GraphState, src: _Step, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("planner", await _ask("planner", state, src, env), Plan)


async def _coder(state: GraphState, src: _Step, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("coder", await _ask("coder", state, src, env), CodeBundle)


async def _critic(state: GraphState, src: _Step, env: NodeEnv) -> BaseModel | ParseFailure:
    return parse_output("critic", await _ask("critic", state, src, env), CriticVerdict)


async def _qa(state: GraphState, src: _Step, env: NodeEnv) -> BaseModel | ParseFailure:
    if src.recorded is not None:
        return QAResult.model_validate(src.recorded["output"])
    code = CodeBundle.model_validate(state.get("code") or {})
    task = TaskSpec.model_validate(state.get("task") or {})
    files = {**code.files, **task.acceptance_tests}
    return await asyncio.to_thread(env.qa_runner, files)


async def _approver(state: GraphState, src: _Step, env: NodeEnv) -> BaseModel | ParseFailure:
    answer = parse_output("approver", await _ask("approver", state, src, env), _ApproverAnswer)
    if isinstance(answer, ParseFailure):
        return answer
    return Decision(approved=answer.approved, reasons=answer.reasons, decided_by="approver")


_BODIES = {
    "planner": _planner,
    "coder": _coder,
    "critic": _critic,
    "qa": _qa,
    "approver": _approver,
}


def _budget_violation(node: str, detail: str) -> Violation:
    return Violation(node=node, stage="budget", rule="budget_exhausted", detail=detail)


async def _evaluate(
    node: str, state: GraphState, src: _Step, env: NodeEnv
) -> tuple[dict[str, Any], BaseModel | ParseFailure | None, GuardReport]:
    report = src.guard.check_input(node, state)
    if report.violations:
        return violation_update(node, state, report.violations), None, report
    output: BaseModel | ParseFailure | None = None
    src.budget_error = src.budget_block(node, env)
    if src.budget_error is None:
        try:
            output = await _BODIES[node](state, src, env)
        except BudgetExceededError as exc:
            src.budget_error = str(exc)
    if src.budget_error is not None or output is None:
        report.violations.append(_budget_violation(node, src.budget_error or "no output"))
        return violation_update(node, state, report.violations), None, report
    if isinstance(output, ParseFailure):
        return failure_update(node, state, output), output, report
    report.extend(await src.guard.check_output(node, output, state))
    if report.violations:
        return violation_update(node, state, report.violations), output, report
    return apply_output(node, state, output, env.max_refinements), output, report


def _entry(
    node: str, state: GraphState, src: _Step, output: Any, report: GuardReport
) -> dict[str, Any]:
    return {
        "node": node,
        "step": src.step,
        "input": node_input(node, state),
        "output": output.as_dict()
        if isinstance(output, ParseFailure)
        else (output.model_dump() if output is not None else None),
        "llm_responses": [u.model_dump() for u in src.usages],
        "registry_lookups": report.registry_lookups,
        "violations": [v.model_dump() for v in report.violations],
        "budget_error": src.budget_error,
    }


def make_node(node: str, env: NodeEnv) -> NodeFn:
    """The guarded, ledgered LangGraph node function for ``node``."""

    async def run(state: GraphState) -> dict[str, Any]:
        step = int(state.get("step") or 0) + 1
        src = _step_sources(env, node, step)
        update, output, report = await _evaluate(node, state, src, env)
        cost = sum(u.cost_eur for u in src.usages)
        update["step"] = step
        update["history"] = [*(state.get("history") or []), node]
        update["cost_eur"] = round(float(state.get("cost_eur") or 0.0) + cost, 9)
        after = state_hash({**state, **update})
        entry = _entry(node, state, src, output, report)
        entry["state_hash_after"] = after
        _record(env, src, entry, _finished(update, state, after))
        return update

    run.__name__ = f"{node}_node"
    return run


def _finished(update: dict[str, Any], state: GraphState, after: str) -> dict[str, Any] | None:
    """The run's end when this node decided it (every decision routes to the end)."""
    if not update.get("decision"):
        return None
    return {
        "decision": update["decision"],
        "history": update["history"],
        "refinements": int(update.get("refinements", state.get("refinements")) or 0),
        "cost_eur": update["cost_eur"],
        "final_state_hash": after,
    }


def _record(
    env: NodeEnv, src: _Step, entry: dict[str, Any], finished: dict[str, Any] | None
) -> None:
    if src.recorded is not None:
        if src.recorded.get("state_hash_after") != entry["state_hash_after"]:
            env.mismatches.append(
                f"step {src.step} ({entry['node']}): state hash {entry['state_hash_after']} "
                f"!= recorded {src.recorded.get('state_hash_after')}"
            )
        return
    if env.recorder is not None:
        env.recorder.node(entry, finished)
        env.finished_recorded = finished is not None
    if entry["violations"] and env.events is not None:
        env.events.publish(
            "agent_run.policy_violation",
            {"run_id": env.run_id, "node": entry["node"], "violations": entry["violations"]},
            correlation_id=env.run_id,
        )
