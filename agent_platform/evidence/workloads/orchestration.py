"""Orchestration workload: the shipped scenarios through the real graph, and the guard corpus.

Every scenario of ``configs/scenarios/`` runs through the real graph, policy guard, QA sandbox,
checkpointer and ledger in the database it is given (model answers scripted and served by the
provider simulator, so the rows say ``simulated=true``), and is replayed from its ledger; the
replay's verdict is kept per run.

The first scenario runs ``warmup`` times before the measured runs: the first run in a process
pays one-off costs (importing litellm, starting the simulator and the sandbox interpreter), so
its latency is recorded apart as the cold start (``warmup=true``). The whole scenario set then
runs ``repeats`` times, so the loop latency p95 rests on ``repeats`` x the number of
scenarios measured runs.

The guard corpus (:mod:`~agent_platform.evidence.workloads.guard_corpus`) runs in the same
workload: it measures the guard the scenarios rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.formats.guard import GuardCase
from agent_platform.evidence.formats.orchestration import UNSCRIPTED, ScenarioRun
from agent_platform.evidence.workloads.guard_corpus import run_guard_corpus
from agent_platform.orchestration.scenarios import (
    ScenarioFigures,
    list_scenarios,
    run_scenarios_sync,
)
from agent_platform.orchestration.scripted import load_task_file
from agent_platform.schemas.policy import AgentPolicy, load_agent_policy

__all__ = ["OrchestrationOutcome", "expected_violations", "run_orchestration", "scenario_row"]

Now = Callable[[], str]
Progress = Callable[[ScenarioRun], None]


@dataclass(frozen=True)
class OrchestrationOutcome:
    """The scenario runs (warm-up first) and the guard corpus verdicts of one workload run."""

    runs: list[ScenarioRun]
    guard: list[GuardCase]

    @property
    def measured_runs(self) -> int:
        return sum(not r.warmup for r in self.runs)

    def declared_config(self) -> dict[str, object]:
        """What the run measured, for the manifest: scenarios, and the corpus's case counts."""
        violating = sum(c.expected_rule is not None for c in self.guard)
        return {
            "scenarios": sorted({r.scenario for r in self.runs}),
            "guard_corpus": {"violations": violating, "clean": len(self.guard) - violating},
        }


def expected_violations(paths: list[Path]) -> dict[str, str | None]:
    """The policy rule each scenario script expects the guard to catch (None: none)."""
    out: dict[str, str | None] = {}
    for path in paths:
        simulation = load_task_file(path).simulation
        out[path.stem] = (
            simulation.expect.violation_rule if simulation and simulation.expect else None
        )
    return out


def scenario_row(
    figures: ScenarioFigures, timestamp: str, expected_rule: str | None, warmup: bool
) -> ScenarioRun:
    """The evidence row of one scenario run."""
    expected = (
        tuple(figures.expected_history) if figures.expected_history is not None else (UNSCRIPTED,)
    )
    return ScenarioRun(
        timestamp=timestamp,
        scenario=figures.scenario,
        node_order=tuple(figures.history),
        expected_node_order=expected,
        loops=figures.loops_taken,
        decision=figures.decision,
        expected_decision=figures.expected_decision or UNSCRIPTED,
        violation_expected=expected_rule is not None,
        violation_caught=expected_rule is not None and expected_rule in figures.violation_rules,
        run_latency_ms=figures.run_latency_ms,
        simulated=figures.simulated,
        warmup=warmup,
        replay_matched=figures.replay_ok,
        replay_detail=figures.replay_detail,
    )


def run_orchestration(
    database_url: str,
    *,
    warmup: int,
    repeats: int,
    now: Now,
    progress: Progress | None = None,
    policy: AgentPolicy | None = None,
) -> OrchestrationOutcome:
    """Run the warm-up, then every scenario ``repeats`` times, then the guard corpus.

    ``database_url`` must be a migrated scratch database: the runs write checkpoints and ledger
    entries. ``now`` stamps each row when its run finished.
    """
    policy = policy or load_agent_policy()
    scenarios = list_scenarios()
    rules = expected_violations(scenarios)
    batches = [(True, scenarios[:1])] * warmup + [(False, scenarios)] * repeats
    runs: list[ScenarioRun] = []
    for warm, paths in batches:
        for figures in run_scenarios_sync(database_url, paths=paths, policy=policy):
            row = scenario_row(figures, now(), rules.get(figures.scenario), warm)
            runs.append(row)
            if progress is not None:
                progress(row)
    guard = [
        GuardCase(now(), r.case_id, r.kind, r.expected_rule, r.found_rules)
        for r in run_guard_corpus(policy)
    ]
    return OrchestrationOutcome(runs, guard)
