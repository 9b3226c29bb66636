"""Where the agent graph is built: guarded nodes, edges and conditions from a :class:`Topology`.

planner → coder → critic; critic → coder when it asks for a refinement, else → qa; qa →
approver when the tests pass, else → coder with the failures; approver → end. Every node also
stops the run (→ end) once a decision is in the state: a policy violation, an unparseable
answer, or the refinement bound (``max_refinements``), so a run never ends in a recursion error.

:func:`make_node` wraps every node body (:mod:`nodes`) the same way: guard the input, refuse to
run on an exhausted budget, run the body, parse and guard the output, compute the state update
(:mod:`transitions`), append the ledger entry with, in the same transaction, the outbox rows of
a policy-violation event and of the run's end (approved / rejected) when the node decided it.
:func:`build_agent_graph` compiles the guarded graph of a topology once; what belongs to one run
(its ledger, model client, guard, events: a :class:`NodeEnv`) reaches the nodes as LangGraph's
run-scoped context (``astream(..., context=env)``), so a runner reuses one compiled graph for
all its runs instead of compiling per run (about 14 ms each, measured by bench/graph.py's
profile).

With the run's :class:`LedgerPipeline` (the checkpointer waits on it, see :mod:`ledger_gate`)
the node hands its entry over and returns (the pipeline commits on the event loop over an
async connection on PostgreSQL, else on a worker thread); otherwise it awaits the commit. Either way the ledger leads LangGraph's checkpoint, which resume
relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

from agent_platform.errors import BudgetExceededError
from agent_platform.orchestration.guard import GuardReport
from agent_platform.orchestration.nodes import (
    NODE_BODIES,
    LedgerItem,
    NodeEnv,
    Notice,
    StepSources,
    outbox_writer,
    run_end_notice,
    step_sources,
)
from agent_platform.orchestration.parsing import ParseFailure
from agent_platform.orchestration.recorder import node_events
from agent_platform.orchestration.topology import CONDITIONS, END_NODE, Topology
from agent_platform.orchestration.transitions import (
    apply_output,
    failure_update,
    node_input,
    violation_update,
)
from agent_platform.orchestration.types import GraphState, Violation, state_hash
from agent_platform.state._ledger_sql import MAX_ONE_STATEMENT
from agent_platform.state.ledger_replay import AsyncConnect

__all__ = [
    "AnyNode",
    "GuardedNode",
    "build_agent_graph",
    "build_state_graph",
    "compile_graph",
    "make_node",
    "recursion_limit",
    "structure",
    "write_entries",
    "write_entries_async",
]

GuardedNode = Callable[[GraphState, Runtime[NodeEnv]], Awaitable[dict[str, Any]]]
"""A node of the agent graph: the state, and the run's :class:`NodeEnv` as runtime context."""

AnyNode = Callable[..., Awaitable[dict[str, Any]]]
"""What :func:`compile_graph` accepts: a guarded node or a plain ``state -> update`` body."""


def build_state_graph(topology: Topology, nodes: Mapping[str, AnyNode]) -> StateGraph[Any]:
    """The uncompiled graph: one LangGraph node per topology node, edges as declared."""
    graph: StateGraph[Any] = StateGraph(GraphState)
    for spec in topology.nodes:
        graph.add_node(spec.name, nodes[spec.name])
    graph.set_entry_point(topology.entry)
    for edge in topology.edges:
        graph.add_edge(edge.source, edge.target)
    for cond in topology.conditional_edges:
        routes: dict[Hashable, str] = {label: target for label, target in cond.routes.items()}
        graph.add_conditional_edges(cond.source, CONDITIONS[cond.condition], routes)
    return graph


def compile_graph(
    topology: Topology,
    nodes: Mapping[str, AnyNode],
    *,
    checkpointer: Any = None,
    interrupt_before: Sequence[str] = (),
) -> Any:
    """Compile with a checkpointer; ``interrupt_before`` pauses durably before those nodes."""
    graph = build_state_graph(topology, nodes)
    return graph.compile(
        checkpointer=checkpointer,
        interrupt_before=list(interrupt_before) or None,
    )


def build_agent_graph(topology: Topology, *, checkpointer: Any = None) -> Any:
    """The compiled guarded graph of ``topology``; run it with ``context=NodeEnv(...)``.

    Pausing before a node is a per-run choice: pass ``interrupt_before`` to ``astream``.
    """
    nodes = {spec.name: make_node(spec.name) for spec in topology.nodes}
    return compile_graph(topology, nodes, checkpointer=checkpointer)


def recursion_limit(topology: Topology) -> int:
    """Steps a run can take at most: planner, (r+1) x coder/critic/qa, approver, plus slack."""
    loops = topology.policy.max_refinements + 1
    return 2 + 3 * loops + 5


def structure(compiled: Any) -> dict[str, Any]:
    """Nodes and edges of a compiled graph (conditional ones with their route labels)."""
    drawable = compiled.get_graph()
    nodes = sorted(str(n) for n in drawable.nodes)
    edges = sorted(
        (e.source, e.target, str(e.data) if e.data is not None else "", bool(e.conditional))
        for e in drawable.edges
    )
    return {"nodes": nodes, "edges": [list(e) for e in edges], "end": END_NODE}


def _budget_violation(node: str, detail: str) -> Violation:
    return Violation(node=node, stage="budget", rule="budget_exhausted", detail=detail)


async def _evaluate(
    node: str, state: GraphState, src: StepSources, env: NodeEnv
) -> tuple[dict[str, Any], BaseModel | ParseFailure | None, GuardReport]:
    report = src.guard.check_input(node, state)
    if report.violations:
        return violation_update(node, state, report.violations), None, report
    output: BaseModel | ParseFailure | None = None
    src.budget_error = src.budget_block(node, env)
    if src.budget_error is None:
        try:
            output = await NODE_BODIES[node](state, src, env)
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
    node: str, state: GraphState, src: StepSources, output: Any, report: GuardReport
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


def make_node(node: str) -> GuardedNode:
    """The guarded, ledgered LangGraph node function for ``node`` (env from the run context)."""

    async def run(state: GraphState, runtime: Runtime[NodeEnv]) -> dict[str, Any]:
        env = runtime.context
        if env.pipeline is not None:
            env.pipeline.raise_if_failed()
        step = int(state.get("step") or 0) + 1
        src = step_sources(env, node, step)
        update, output, report = await _evaluate(node, state, src, env)
        cost = sum(u.cost_eur for u in src.usages)
        update["step"] = step
        update["history"] = [*(state.get("history") or []), node]
        update["cost_eur"] = round(float(state.get("cost_eur") or 0.0) + cost, 9)
        after = state_hash({**state, **update})
        entry = _entry(node, state, src, output, report)
        entry["state_hash_after"] = after
        item = _ledger_item(env, entry, _finished(update, state, after))
        if _record(env, src, entry):
            return update
        if env.pipeline is not None:
            env.pipeline.submit(step, item)
        else:
            await asyncio.to_thread(write_entries, env, [item])
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


def _record(env: NodeEnv, src: StepSources, entry: dict[str, Any]) -> bool:
    """For a step the ledger already holds, compare its state hash; True when it holds it."""
    if src.recorded is None:
        return False
    if src.recorded.get("state_hash_after") != entry["state_hash_after"]:
        env.mismatches.append(
            f"step {src.step} ({entry['node']}): state hash {entry['state_hash_after']} "
            f"!= recorded {src.recorded.get('state_hash_after')}"
        )
    return True


def write_entries(env: NodeEnv, batch: list[LedgerItem]) -> None:
    """Commit the events of ``batch`` in one ledger transaction, with the outbox rows of its
    notices (policy violations, the run's end) in that same transaction.

    Runs on a worker thread: through the run's :class:`LedgerPipeline`, or awaited by the node.
    """
    if env.recorder is None:
        return
    notices = [notice for item in batch for notice in item.notices]
    env.recorder.append(
        [event for item in batch for event in item.events],
        then=outbox_writer(env.events, env.run_id, notices),
    )
    env.finished_recorded = env.finished_recorded or any(i.finishes_run for i in batch)


async def write_entries_async(
    env: NodeEnv, batch: list[LedgerItem], connect: AsyncConnect | None
) -> None:
    """:func:`write_entries` on the event loop over ``connect`` (one statement); a batch with
    outbox rows, or too long for one statement, or without ``connect``, goes to a thread."""
    if env.recorder is None:
        return
    events = [event for item in batch for event in item.events]
    outbox = env.events is not None and any(item.notices for item in batch)
    if connect is None or outbox or len(events) > MAX_ONE_STATEMENT:
        await asyncio.to_thread(write_entries, env, batch)
        return
    await env.recorder.append_async(events, connect)
    env.finished_recorded = env.finished_recorded or any(i.finishes_run for i in batch)


def _ledger_item(
    env: NodeEnv, entry: dict[str, Any], finished: dict[str, Any] | None
) -> LedgerItem:
    notices: list[Notice] = []
    if entry["violations"]:
        violation = {"run_id": env.run_id, "node": entry["node"], "violations": entry["violations"]}
        notices.append(("agent_run.policy_violation", violation))
    if finished is not None:
        notices.append(run_end_notice(env.run_id, finished))
    return LedgerItem(node_events(entry, finished), tuple(notices), finished is not None)
