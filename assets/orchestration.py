"""Orchestration evidence: the scripted scenarios through the real graph, and the guard corpus.

The workload (:mod:`agent_platform.evidence.workloads.orchestration`) runs the scenarios in a
scratch database, replays each from its ledger and runs the policy guard on its corpus; this
asset writes the two files and records what the run declares.
"""

from collections.abc import Callable
from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats import guard, orchestration
from agent_platform.evidence.formats.orchestration import ScenarioRun
from agent_platform.evidence.workloads.orchestration import (
    OrchestrationOutcome,
    run_orchestration,
)
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource

__all__ = ["ORCHESTRATION_KEY", "orchestration_checks", "orchestration_runs"]

ORCHESTRATION_KEY = AssetKey(["orchestration_runs"])


def _table_row(r: ScenarioRun) -> tuple[object, ...]:
    ms = f"{r.run_latency_ms:.0f}" + (" (warm-up)" if r.warmup else "")
    return (r.scenario, ">".join(r.node_order), r.decision, r.loops, r.replay_matched, ms)


def _metadata(outcome: OrchestrationOutcome) -> dict[str, Any]:
    columns = ("scenario", "node order", "decision", "loops", "replay matched", "ms")
    verdicts = [
        (c.case, c.expected_rule or "-", ",".join(c.found_rules) or "-", c.outcome)
        for c in outcome.guard
    ]
    return {
        "path": paths.ORCHESTRATION_RUNS,
        "scenarios": markdown_table(columns, [_table_row(r) for r in outcome.runs]),
        "guard corpus": markdown_table(("case", "breaks", "guard found", "outcome"), verdicts),
    }


def _log(context: AssetExecutionContext) -> Callable[[ScenarioRun], None]:
    return lambda r: context.log.info(f"{r.scenario}: {r.decision} in {r.run_latency_ms:.0f} ms")


def _backends(database: DatabaseResource, outcome: OrchestrationOutcome) -> dict[str, Any]:
    return {
        "database": database.backend,
        "providers_simulated": all(r.simulated for r in outcome.runs),
    }


@asset(
    key=ORCHESTRATION_KEY,
    group_name="orchestration",
    description="Scenario node order, loops, replays and latency; the guard on its corpus.",
)
def orchestration_runs(
    context: AssetExecutionContext, evidence: EvidenceResource, database: DatabaseResource
) -> MaterializeResult:
    started, sizes = utc_now_iso(), sizes_for(evidence, "orchestration")
    with database.scratch("graph") as engine:
        url = engine.url.render_as_string(hide_password=False)
        outcome = run_orchestration(
            url, warmup=sizes["warmup"], repeats=sizes["repeats"], now=utc_now_iso,
            progress=_log(context),
        )  # fmt: skip
    layout = evidence.layout()
    runs = orchestration.write(layout.path(paths.ORCHESTRATION_RUNS), outcome.runs)
    cases = guard.write(layout.path(paths.GUARD_CORPUS), outcome.guard)
    finish(
        context,
        evidence,
        "orchestration",
        started_at=started,
        finished_at=utc_now_iso(),
        sizes={**sizes, "scenarios": runs, "measured_runs": outcome.measured_runs},
        backends=_backends(database, outcome),
        declared={
            "samples": {paths.ORCHESTRATION_RUNS: runs, paths.GUARD_CORPUS: cases},
            "config": {**sizes, **outcome.declared_config()},
        },
    )
    figures = evidence_metadata(layout, "orchestration")
    return MaterializeResult(metadata={**_metadata(outcome), **figures})


def orchestration_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The orchestration thresholds of the contract, as blocking checks."""
    return threshold_checks(
        ORCHESTRATION_KEY, "orchestration", contract.thresholds_for("orchestration")
    )
