"""Orchestration evidence: the shipped scripted scenarios, run through the real graph.

Every scenario of ``configs/scenarios/`` runs through the real graph, policy guard, QA sandbox,
checkpointer and ledger in a scratch database (model answers scripted and served by the
provider simulator, so the rows say ``simulated=true``), and is replayed from its ledger.

The first scenario runs once more before the measured runs, as a warm-up: the first run in a
process pays one-off costs (importing litellm, starting the simulator and the sandbox
interpreter), so its latency is recorded apart as the cold start (``warmup=true``) and the
per-loop latency figures come from the measured runs.
"""

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.orchestration import UNSCRIPTED, ScenarioRun, write
from agent_platform.orchestration.scenarios import (
    ScenarioFigures,
    list_scenarios,
    run_scenarios_sync,
)
from agent_platform.orchestration.scripted import load_task_file
from assets._checks import threshold_checks
from assets._common import finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource

__all__ = ["ORCHESTRATION_KEY", "orchestration_checks", "orchestration_runs"]

ORCHESTRATION_KEY = AssetKey(["orchestration_runs"])


def _expected_violations() -> dict[str, str | None]:
    """The policy rule each scenario script expects the guard to catch (None: none)."""
    out: dict[str, str | None] = {}
    for path in list_scenarios():
        simulation = load_task_file(path).simulation
        out[path.stem] = (
            simulation.expect.violation_rule if simulation and simulation.expect else None
        )
    return out


def _row(
    figures: ScenarioFigures, finished: str, expected_rule: str | None, warmup: bool
) -> ScenarioRun:
    expected = (
        tuple(figures.expected_history) if figures.expected_history is not None else (UNSCRIPTED,)
    )
    return ScenarioRun(
        timestamp=finished,
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
    )


@asset(
    key=ORCHESTRATION_KEY,
    group_name="orchestration",
    description="Node order, loops, policy violations and latency of the scripted scenarios.",
)
def orchestration_runs(
    context: AssetExecutionContext, evidence: EvidenceResource, database: DatabaseResource
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "orchestration")
    rows: list[ScenarioRun] = []
    expected_rules = _expected_violations()
    with database.scratch("graph") as engine:
        url = engine.url.render_as_string(hide_password=False)
        batches = [(True, list_scenarios()[:1])] * sizes["warmup"]
        batches += [(False, list_scenarios())] * sizes["repeats"]
        for warmup, scenario_paths in batches:
            for figures in run_scenarios_sync(url, paths=scenario_paths):
                rule = expected_rules.get(figures.scenario)
                rows.append(_row(figures, utc_now_iso(), rule, warmup))
                context.log.info(
                    f"{figures.scenario}{' (warm-up)' if warmup else ''}: {figures.decision} "
                    f"in {figures.run_latency_ms:.0f} ms"
                )
    finished = utc_now_iso()
    write(evidence.layout().path(paths.ORCHESTRATION_RUNS), rows)
    finish(
        context,
        evidence,
        "orchestration",
        started_at=started,
        finished_at=finished,
        sizes={**sizes, "scenarios": len(rows)},
        backends={
            "database": database.backend,
            "providers_simulated": bool(rows) and all(r.simulated for r in rows),
        },
    )
    table = [
        (
            r.scenario,
            ">".join(r.node_order),
            r.decision,
            r.loops,
            r.violation_caught,
            f"{r.run_latency_ms:.0f}" + (" (warm-up)" if r.warmup else ""),
        )
        for r in rows
    ]
    return MaterializeResult(
        metadata={
            "path": paths.ORCHESTRATION_RUNS,
            "scenarios": markdown_table(
                ("scenario", "node order", "decision", "loops", "violation caught", "ms"), table
            ),
        }
    )


def orchestration_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The orchestration thresholds of the contract, as blocking checks."""
    return threshold_checks(
        ORCHESTRATION_KEY, "orchestration", contract.thresholds_for("orchestration")
    )
