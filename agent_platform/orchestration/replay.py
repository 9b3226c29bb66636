"""Audit replay: reproduce a finished run from its ledger alone and check its state hash.

LangGraph's own time travel re-runs the model calls, so it cannot prove what happened. This
replay re-executes the graph's deterministic transitions (guard, parsing, state updates) with
the LLM answers, QA results and registry answers the ledger recorded, calls no provider and
runs no test, then compares every step's state hash and the final one with the recorded ones
and verifies the ledger's hash chain. It writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.errors import LedgerError
from agent_platform.orchestration.graph_builder import build_agent_graph, recursion_limit
from agent_platform.orchestration.guard import PolicyGuard, RecordedRegistry
from agent_platform.orchestration.llm import RecordedLLM
from agent_platform.orchestration.nodes import NodeEnv
from agent_platform.orchestration.recorder import ledger_name, read_run
from agent_platform.orchestration.runner import initial_state
from agent_platform.orchestration.topology import Topology
from agent_platform.orchestration.types import QAResult, TaskSpec, state_hash
from agent_platform.state.ledger_replay import Ledger

__all__ = ["ReplayResult", "replay_run"]


@dataclass(frozen=True)
class ReplayResult:
    """What the replay reproduced and whether it matches the ledger."""

    run_id: str
    ok: bool
    final_state_hash: str
    recorded_state_hash: str | None
    history: list[str]
    steps: int
    mismatches: list[str]
    ledger_ok: bool
    ledger_detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "final_state_hash": self.final_state_hash,
            "recorded_state_hash": self.recorded_state_hash,
            "history": self.history,
            "steps": self.steps,
            "mismatches": self.mismatches,
            "ledger_ok": self.ledger_ok,
            "ledger_detail": self.ledger_detail,
        }


def _no_qa(files: dict[str, str]) -> QAResult:
    raise LedgerError("replay reached a QA step the ledger did not record")


def _mismatches(
    steps_found: list[str], final: str, recorded: str | None, steps: int, entries: int
) -> list[str]:
    found = list(steps_found)
    if final != recorded:
        found.append(f"final state hash {final} != recorded {recorded}")
    if steps != entries:
        found.append(f"replay took {steps} steps, the ledger recorded {entries}")
    return found


async def replay_run(engine: Engine, run_id: str) -> ReplayResult:
    """Replay finished run ``run_id`` from its ledger; no provider call, no test run.

    Raises:
        LedgerError: the ledger holds no such run, or the run never finished.
    """
    ledger = Ledger(engine, ledger_name(run_id))
    verification = ledger.verify()
    record = read_run(ledger, run_id)
    if record.finished is None:
        raise LedgerError(f"run {run_id} has not finished: nothing to replay against")
    topology = Topology.model_validate(record.started["topology"])
    env = NodeEnv(
        run_id=run_id,
        guard=PolicyGuard(topology.policy, RecordedRegistry({})),
        llm=RecordedLLM(0, "replay", []),
        qa_runner=_no_qa,
        record=record,
    )
    graph = build_agent_graph(topology)
    start = initial_state(TaskSpec.model_validate(record.started["task"]))
    config = {"recursion_limit": recursion_limit(topology)}
    final = await graph.ainvoke(start, config, context=env)
    final_hash = state_hash(dict(final))
    recorded = record.finished.get("final_state_hash")
    steps = int(final.get("step") or 0)
    mismatches = _mismatches(env.mismatches, final_hash, recorded, steps, len(record.nodes))
    detail = None if verification.ok else f"seq {verification.first_bad_seq}: {verification.reason}"
    return ReplayResult(
        run_id=run_id,
        ok=not mismatches and verification.ok,
        final_state_hash=final_hash,
        recorded_state_hash=recorded,
        history=list(final.get("history") or []),
        steps=steps,
        mismatches=mismatches,
        ledger_ok=verification.ok,
        ledger_detail=detail,
    )
