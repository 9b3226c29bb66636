"""The deterministic state transitions of the agent graph.

Given a node's typed output (or its violations or parse failure) and the state it ran on, these
functions compute the state update. They are pure, which is what makes a run replayable from
the ledger: replay feeds the recorded LLM answers and QA results back through exactly this code
and must arrive at the same state hash.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agent_platform.orchestration.parsing import ParseFailure
from agent_platform.orchestration.types import (
    CodeBundle,
    CriticVerdict,
    Decision,
    GraphState,
    Plan,
    QAResult,
    Violation,
)

__all__ = ["NODE_INPUTS", "apply_output", "failure_update", "node_input", "violation_update"]

# The state keys each node reads: its recorded input and what the guard checks.
NODE_INPUTS: dict[str, tuple[str, ...]] = {
    "planner": ("task",),
    "coder": ("task", "plan", "feedback", "code"),
    "critic": ("task", "plan", "code"),
    "qa": ("task", "code"),
    "approver": ("task", "plan", "verdict", "qa"),
}


def node_input(node: str, state: GraphState) -> dict[str, Any]:
    """The slice of ``state`` that ``node`` reads."""
    return {key: state.get(key) for key in NODE_INPUTS[node]}


def _rejected(by: str, reasons: list[str]) -> dict[str, Any]:
    return Decision(approved=False, reasons=reasons, decided_by=by).model_dump()


def violation_update(node: str, state: GraphState, violations: list[Violation]) -> dict[str, Any]:
    """A violation stops the run: it ends rejected with every reason recorded."""
    reasons = [v.reason() for v in violations]
    return {
        "violations": [*(state.get("violations") or []), *(v.model_dump() for v in violations)],
        "decision": _rejected("policy_guard", reasons),
    }


def failure_update(node: str, state: GraphState, failure: ParseFailure) -> dict[str, Any]:
    """An unparseable answer ends the run rejected, with the parse error recorded."""
    return {
        "failures": [*(state.get("failures") or []), failure.as_dict()],
        "decision": _rejected(node, [f"{node} answer could not be parsed: {failure.reason}"]),
    }


def apply_output(
    node: str, state: GraphState, output: BaseModel, max_refinements: int
) -> dict[str, Any]:
    """The state update for a node's accepted output."""
    if isinstance(output, Plan):
        return {"plan": output.model_dump()}
    if isinstance(output, CodeBundle):
        return {"code": output.model_dump(), "feedback": []}
    if isinstance(output, CriticVerdict):
        update: dict[str, Any] = {"verdict": output.model_dump()}
        if output.needs_refinement:
            reasons = output.reasons or ["the critic asked for a refinement without reasons"]
            update.update(_refine(state, "critic", reasons, max_refinements))
        return update
    if isinstance(output, QAResult):
        # The wall time is in the ledger entry, not in the state: equal runs hash equal.
        update = {"qa": output.model_dump(exclude={"duration_ms"})}
        if not output.ok:
            reasons = output.failures or [f"tests did not pass (exit {output.exit_code})"]
            update.update(_refine(state, "qa", reasons, max_refinements))
        return update
    if isinstance(output, Decision):
        return {"decision": output.model_dump()}
    raise TypeError(f"{node}: no transition for output type {type(output).__name__}")


def _refine(state: GraphState, by: str, reasons: list[str], max_refinements: int) -> dict[str, Any]:
    done = int(state.get("refinements") or 0)
    if done >= max_refinements:
        summary = f"refinement bound of {max_refinements} reached; {by} still reports: "
        return {"decision": _rejected(by, [summary + "; ".join(reasons)])}
    return {"refinements": done + 1, "feedback": list(reasons)}
