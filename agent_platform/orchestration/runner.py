"""Run, resume and finish agent runs: the graph, its checkpointer, its ledger, its events.

:class:`AgentRunner` owns nothing long-lived: the caller hands in the engine (ledger), an open
checkpointer (see :mod:`checkpointing`), the model client, the policy and optionally the
registry checker, QA runner and event sink. ``run`` starts a run (thread id = run id);
``resume`` continues one from its last checkpoint with the topology and policy recorded when it
started, so a resumed run ends exactly as an uninterrupted one would. The graph of a topology is
compiled once per runner and reused by every run (each run brings its own :class:`NodeEnv`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from agent_platform.canonical import content_hash
from agent_platform.db import is_postgres
from agent_platform.errors import InvalidInputError
from agent_platform.events import EventSink
from agent_platform.orchestration.graph_builder import (
    build_agent_graph,
    recursion_limit,
    write_entries,
    write_entries_async,
)
from agent_platform.orchestration.guard import PolicyGuard, RegistryChecker
from agent_platform.orchestration.ledger_gate import GatedSaverMixin, LedgerPipeline
from agent_platform.orchestration.llm import LLMClient
from agent_platform.orchestration.nodes import (
    LedgerItem,
    NodeEnv,
    QARunner,
    outbox_writer,
    run_end_notice,
)
from agent_platform.orchestration.recorder import RunRecorder, ledger_name, read_run, started_event
from agent_platform.orchestration.sandbox import PytestSandbox
from agent_platform.orchestration.topology import Topology, default_topology
from agent_platform.orchestration.types import GraphState, TaskSpec, state_hash
from agent_platform.schemas.policy import AgentPolicy
from agent_platform.state.ledger_replay import AsyncConnect, Ledger

__all__ = ["AgentRunner", "RunFinishedError", "RunResult", "UpdateCallback", "initial_state"]

UpdateCallback = Callable[[str, dict[str, Any]], None]
_REASONS_SHOWN = 160


class RunFinishedError(InvalidInputError):
    """``resume`` of a run whose ledger already holds its ``run_finished`` entry.

    A finished run has nothing left to do, and a ``run_resumed`` entry after its end would make
    the audit trail claim it went on; the ledger is left exactly as it was.
    """

    def __init__(self, run_id: str, finished: dict[str, Any]) -> None:
        self.run_id = run_id
        self.outcome = _outcome(finished)
        super().__init__(
            f"run {run_id} already finished ({self.outcome}); nothing to resume: "
            "start a new run instead"
        )


def _outcome(finished: dict[str, Any]) -> str:
    """A finished run's decision in a few words: approved or rejected, and why."""
    decision = finished.get("decision") or {}
    verdict = "approved" if decision.get("approved") else "rejected"
    reasons = "; ".join(str(r) for r in decision.get("reasons") or [])
    if len(reasons) > _REASONS_SHOWN:
        reasons = reasons[: _REASONS_SHOWN - 3] + "..."
    return f"{verdict}: {reasons}" if reasons else verdict


@dataclass(frozen=True)
class RunResult:
    """How a run ended (or where it paused)."""

    run_id: str
    status: str
    decision: dict[str, Any] | None
    history: list[str]
    refinements: int
    violations: list[dict[str, Any]]
    cost_eur: float
    final_state_hash: str
    paused_before: tuple[str, ...] = ()
    latency_ms: float = 0.0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return bool(self.decision and self.decision.get("approved"))


async def _collect(stream: Any, on_update: UpdateCallback | None) -> dict[str, Any]:
    """The last state a graph stream yields; each node's update goes to ``on_update``."""
    values: dict[str, Any] = {}
    async for mode, chunk in stream:
        if mode == "values":
            values = dict(chunk)
        elif on_update is not None:
            for node, update in chunk.items():
                if isinstance(update, dict):
                    on_update(node, update)
    return values


def initial_state(task: TaskSpec) -> GraphState:
    """The state a run starts from."""
    return GraphState(
        task=task.model_dump(),
        plan=None,
        code=None,
        verdict=None,
        qa=None,
        decision=None,
        feedback=[],
        refinements=0,
        step=0,
        history=[],
        violations=[],
        flags=[],
        failures=[],
        cost_eur=0.0,
    )


class AgentRunner:
    """Runs the agent graph durably: LangGraph checkpoints plus a hash-chained ledger."""

    def __init__(
        self,
        *,
        engine: Engine,
        checkpointer: Any,
        llm: LLMClient,
        policy: AgentPolicy,
        registry: RegistryChecker | None = None,
        qa_runner: QARunner | None = None,
        events: EventSink | None = None,
        topology: Topology | None = None,
        budget_exhausted: Callable[[str], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.checkpointer = checkpointer
        self.llm = llm
        self.policy = policy
        self.registry = registry
        self.qa_runner = qa_runner or PytestSandbox(policy.sandbox).run
        self.events = events
        self.topology = topology or default_topology(policy)
        self.budget_exhausted = budget_exhausted
        self._graphs: dict[str, Any] = {}

    def _graph(self, topology: Topology) -> Any:
        """The compiled graph of ``topology`` with this runner's checkpointer (cached)."""
        key = content_hash(topology.dump())
        if key not in self._graphs:
            self._graphs[key] = build_agent_graph(topology, checkpointer=self.checkpointer)
        return self._graphs[key]

    def _env(self, run_id: str, topology: Topology, recorder: RunRecorder) -> NodeEnv:
        return NodeEnv(
            run_id=run_id,
            guard=PolicyGuard(topology.policy, self.registry),
            llm=self.llm,
            qa_runner=self.qa_runner,
            recorder=recorder,
            events=self.events,
            budget_exhausted=self.budget_exhausted,
        )

    async def run(
        self,
        task: TaskSpec,
        *,
        run_id: str | None = None,
        interrupt_before: Sequence[str] = (),
        on_update: UpdateCallback | None = None,
    ) -> RunResult:
        """Start a run of ``task``; returns when it finishes or pauses before a node.

        The ``run_started`` entry of a caller-chosen ``run_id`` is committed before anything
        runs, so a reused id fails at once (LedgerConflictError). A generated id cannot clash:
        its entry goes first into the run's ledger pipeline and commits while the graph starts
        (every checkpoint still waits for it).
        """
        chosen = run_id or uuid.uuid4().hex
        recorder = RunRecorder(Ledger(self.engine, ledger_name(chosen)), chosen)
        env = self._env(chosen, self.topology, recorder)
        policy = self.policy.model_dump(mode="json")
        first = LedgerItem([started_event(task.model_dump(), policy, self.topology.dump())])
        pipelined = run_id is None and self._gate() is not None
        if not pipelined:
            write_entries(env, [first])
        return await self._drive(
            env,
            self.topology,
            initial_state(task),
            interrupt_before,
            on_update,
            first=first if pipelined else None,
        )

    async def resume(
        self,
        run_id: str,
        *,
        interrupt_before: Sequence[str] = (),
        on_update: UpdateCallback | None = None,
    ) -> RunResult:
        """Continue ``run_id`` from its last checkpoint (steps already ledgered are reused).

        Raises:
            RunFinishedError: the run already finished; its ledger is left untouched.
            LedgerError: ``run_id`` has no run in the ledger.
            LedgerConflictError: another writer appended to the run (a concurrent finish
                included) after its ledger was read; nothing was written.
        """
        ledger = Ledger(self.engine, ledger_name(run_id))
        record = read_run(ledger, run_id)
        if record.finished is not None:
            raise RunFinishedError(run_id, record.finished)
        topology = Topology.model_validate(record.started["topology"])
        # Appending right after the entries just read: a run_finished written meanwhile by
        # another process makes this compare-and-set fail instead of being followed.
        recorder = RunRecorder(ledger, run_id, next_seq=record.last_seq + 1)
        last_step = max((p["step"] for _seq, p in record.nodes), default=0)
        recorder.resumed(last_step)
        env = self._env(run_id, topology, recorder)
        env.record = record
        return await self._drive(env, topology, None, interrupt_before, on_update)

    async def _drive(
        self,
        env: NodeEnv,
        topology: Topology,
        start: GraphState | None,
        interrupt_before: Sequence[str],
        on_update: UpdateCallback | None,
        first: LedgerItem | None = None,
    ) -> RunResult:
        graph = self._graph(topology)
        config = {
            "configurable": {"thread_id": env.run_id},
            "recursion_limit": recursion_limit(topology),
        }
        started = time.perf_counter()
        stream = graph.astream(
            start,
            config,
            context=env,
            # Per-node updates only when someone listens: LangGraph builds them every step.
            stream_mode=["updates", "values"] if on_update is not None else ["values"],
            interrupt_before=list(interrupt_before) or None,
        )
        values = await self._consume(env, stream, on_update, first)
        pending: tuple[str, ...] = ()
        if interrupt_before or not values.get("decision"):
            snapshot = await graph.aget_state(config)
            values, pending = dict(snapshot.values), tuple(snapshot.next)
        latency = (time.perf_counter() - started) * 1000.0
        return self._result(env, values, pending, latency)

    def _gate(self) -> GatedSaverMixin | None:
        """The checkpointer, when it can hold checkpoints back until the ledger has committed."""
        return self.checkpointer if isinstance(self.checkpointer, GatedSaverMixin) else None

    def _ledger_connect(self, gate: GatedSaverMixin) -> AsyncConnect | None:
        """The checkpointer's async connections, when they reach this runner's ledger database."""
        if gate.ledger_connect is None or gate.ledger_url is None:
            return None
        mine, theirs = self.engine.url, make_url(gate.ledger_url)
        same = (mine.host, mine.port, mine.database) == (theirs.host, theirs.port, theirs.database)
        return gate.ledger_connect if same and is_postgres(self.engine) else None

    async def _consume(
        self, env: NodeEnv, stream: Any, on_update: UpdateCallback | None, first: LedgerItem | None
    ) -> dict[str, Any]:
        """Run the graph's stream to its end or pause; returns with the run's ledger committed.

        With a gated checkpointer the nodes' entries go through a :class:`LedgerPipeline`
        (``first``, the ``run_started`` entry, ahead of them); otherwise each node commits its
        own entry before it returns.
        """
        gate = self._gate()
        if gate is None or env.recorder is None:
            return await _collect(stream, on_update)
        connect = self._ledger_connect(gate)
        pipeline: LedgerPipeline[LedgerItem] = LedgerPipeline(
            partial(write_entries, env),
            awrite=None if connect is None else partial(write_entries_async, env, connect=connect),
        )
        env.pipeline = pipeline
        if first is not None:
            pipeline.submit(0, first)
        with gate.gated(env.run_id, pipeline):
            try:
                values = await _collect(stream, on_update)
            except BaseException:
                await pipeline.settle()
                raise
            await pipeline.wait_for()
        return values

    def _result(
        self, env: NodeEnv, state: dict[str, Any], pending: tuple[str, ...], latency_ms: float
    ) -> RunResult:
        result = RunResult(
            run_id=env.run_id,
            status="paused" if pending else "finished",
            decision=state.get("decision"),
            history=list(state.get("history") or []),
            refinements=int(state.get("refinements") or 0),
            violations=list(state.get("violations") or []),
            cost_eur=float(state.get("cost_eur") or 0.0),
            final_state_hash=state_hash(state),
            paused_before=pending,
            latency_ms=round(latency_ms, 3),
            state=state,
        )
        if not pending and env.recorder is not None:
            self._finish(env, result)
        return result

    def _finish(self, env: NodeEnv, result: RunResult) -> None:
        """Record the run's end unless the deciding node did, with its outbox row (one
        transaction). A node that decided the run committed both already."""
        if env.recorder is None or env.finished_recorded:
            return
        finished = {
            "decision": result.decision,
            "history": result.history,
            "refinements": result.refinements,
            "cost_eur": result.cost_eur,
            "final_state_hash": result.final_state_hash,
        }
        notice = run_end_notice(result.run_id, finished)
        env.recorder.finished(finished, then=outbox_writer(self.events, result.run_id, [notice]))
        env.finished_recorded = True
