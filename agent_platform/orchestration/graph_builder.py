"""Build the LangGraph ``StateGraph`` of the agent run from a :class:`Topology`.

planner → coder → critic; critic → coder when it asks for a refinement, else → qa; qa →
approver when the tests pass, else → coder with the failures; approver → end. Every node also
stops the run (→ end) once a decision is in the state: a policy violation, an unparseable
answer, or the refinement bound (``max_refinements``), so a run never ends in a recursion error.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from langgraph.graph import StateGraph

from agent_platform.orchestration.nodes import NodeFn
from agent_platform.orchestration.topology import CONDITIONS, END_NODE, Topology
from agent_platform.orchestration.types import GraphState

__all__ = ["build_state_graph", "compile_graph", "recursion_limit", "structure"]


def build_state_graph(topology: Topology, nodes: Mapping[str, NodeFn]) -> StateGraph[Any]:
    """The uncompiled graph: one LangGraph node per topology node, edges as declared."""
    graph: StateGraph[Any] = StateGraph(GraphState)
    for spec in topology.nodes:
        graph.add_node(spec.name, nodes[spec.name])  # type: ignore[call-overload]
    graph.set_entry_point(topology.entry)
    for edge in topology.edges:
        graph.add_edge(edge.source, edge.target)
    for cond in topology.conditional_edges:
        routes: dict[Hashable, str] = {label: target for label, target in cond.routes.items()}
        graph.add_conditional_edges(cond.source, CONDITIONS[cond.condition], routes)
    return graph


def compile_graph(
    topology: Topology,
    nodes: Mapping[str, NodeFn],
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
