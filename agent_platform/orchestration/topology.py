"""The graph's topology as data: nodes, edges, conditional edges, policy, routing per node.

The graph is always built from a :class:`Topology` (see :mod:`graph_builder`), so a snapshot
(:mod:`snapshot`) that round-trips this model rebuilds an identical graph. Conditions are
referenced by name and resolved in :data:`CONDITIONS`: a snapshot holds no code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_platform.orchestration.types import NODE_NAMES, NODE_TASKS, GraphState
from agent_platform.schemas.policy import AgentPolicy

__all__ = [
    "CONDITIONS",
    "END_NODE",
    "ConditionalEdge",
    "Edge",
    "NodeSpec",
    "Topology",
    "default_topology",
]

END_NODE = "__end__"


def _stop_or_next(state: GraphState) -> str:
    return "stop" if state.get("decision") else "next"


def _after_critic(state: GraphState) -> str:
    if state.get("decision"):
        return "stop"
    verdict = state.get("verdict") or {}
    return "refine" if verdict.get("needs_refinement") else "pass"


def _after_qa(state: GraphState) -> str:
    if state.get("decision"):
        return "stop"
    qa = state.get("qa") or {}
    return "pass" if qa.get("ok") else "fix"


CONDITIONS: dict[str, Callable[[GraphState], str]] = {
    "stop_or_next": _stop_or_next,
    "after_critic": _after_critic,
    "after_qa": _after_qa,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeSpec(_Frozen):
    """A node and the router task type that serves it (None: no model call)."""

    name: str
    task: str | None


class Edge(_Frozen):
    source: str
    target: str


class ConditionalEdge(_Frozen):
    """A named condition on ``source``; its result picks the target in ``routes``."""

    source: str
    condition: str
    routes: dict[str, str] = Field(min_length=1)


class Topology(_Frozen):
    """Everything needed to rebuild the graph and reproduce its behaviour."""

    version: int = 1
    entry: str
    nodes: list[NodeSpec] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    conditional_edges: list[ConditionalEdge] = Field(default_factory=list)
    policy: AgentPolicy

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        names = {n.name for n in self.nodes}
        unknown = names - set(NODE_NAMES)
        if unknown:
            raise ValueError(f"unknown nodes {sorted(unknown)}; allowed: {list(NODE_NAMES)}")
        targets = names | {END_NODE}
        if self.entry not in names:
            raise ValueError(f"entry {self.entry!r} is not a node")
        for edge in self.edges:
            if edge.source not in names or edge.target not in targets:
                raise ValueError(f"edge {edge.source}->{edge.target} names an unknown node")
        for cond in self.conditional_edges:
            if cond.condition not in CONDITIONS:
                raise ValueError(
                    f"condition {cond.condition!r} is unknown; allowed: {sorted(CONDITIONS)}"
                )
            if cond.source not in names or not set(cond.routes.values()) <= targets:
                raise ValueError(f"conditional edge from {cond.source!r} names an unknown node")
        return self

    def routing(self) -> dict[str, str | None]:
        """Router task type per node."""
        return {n.name: n.task for n in self.nodes}

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def default_topology(policy: AgentPolicy) -> Topology:
    """planner → coder → critic ⟲ coder → qa ⟲ coder → approver → end, stops on a decision."""
    stop = {"stop": END_NODE}
    return Topology(
        entry="planner",
        nodes=[NodeSpec(name=n, task=NODE_TASKS[n]) for n in NODE_NAMES],
        edges=[Edge(source="approver", target=END_NODE)],
        conditional_edges=[
            ConditionalEdge(
                source="planner", condition="stop_or_next", routes={**stop, "next": "coder"}
            ),
            ConditionalEdge(
                source="coder", condition="stop_or_next", routes={**stop, "next": "critic"}
            ),
            ConditionalEdge(
                source="critic",
                condition="after_critic",
                routes={**stop, "refine": "coder", "pass": "qa"},
            ),
            ConditionalEdge(
                source="qa",
                condition="after_qa",
                routes={**stop, "fix": "coder", "pass": "approver"},
            ),
        ],
        policy=policy,
    )
