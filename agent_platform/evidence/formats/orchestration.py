"""``metrics/performance/orchestration_runs.csv``: the scripted graph scenarios, as run.

One row per scenario run: the node order the graph actually took and the one the scenario
script expects (``*`` when the script does not fix the order), the refinement loops taken,
the decision and the one the script expects (``*`` when the script does not fix it), whether a
planted policy violation was expected and whether the guard caught it, the wall-clock run
latency and the latency per loop (run latency divided by the coder passes of the run).

``scenario_conformance`` is the share of scripted runs (those whose script fixes the node
order, the decision or both) whose every scripted expectation held; runs whose script fixes
neither are counted apart as ``unscripted_runs`` and never count as conforming.

``warmup=true`` marks the run made first in a fresh process: it pays the one-off start-up
costs (importing litellm, starting the provider simulator and the sandbox interpreter, the
checkpointer's first connection), so its latency is reported apart, as ``cold_start_ms``. The
loop latency figures come from the measured runs after it; conformance and the policy
violations count every run, the warm-up included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_bool,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.stats import percentile

__all__ = ["COLUMNS", "UNSCRIPTED", "ScenarioRun", "consistency", "figures", "write"]

UNSCRIPTED = "*"

COLUMNS = (
    "timestamp",
    "scenario",
    "node_order",
    "expected_node_order",
    "loops",
    "decision",
    "expected_decision",
    "violation_expected",
    "violation_caught",
    "run_latency_ms",
    "latency_per_loop_ms",
    "simulated",
    "warmup",
)


@dataclass(frozen=True)
class ScenarioRun:
    timestamp: str
    scenario: str
    node_order: tuple[str, ...]
    expected_node_order: tuple[str, ...]
    loops: int
    decision: str
    expected_decision: str
    violation_expected: bool
    violation_caught: bool
    run_latency_ms: float
    simulated: bool
    warmup: bool = False

    @property
    def coder_passes(self) -> int:
        return max(1, self.node_order.count("coder"))


def write(path: Path, runs: Sequence[ScenarioRun]) -> int:
    return write_csv(
        path,
        COLUMNS,
        (
            {
                "timestamp": r.timestamp,
                "scenario": r.scenario,
                "node_order": ">".join(r.node_order),
                "expected_node_order": ">".join(r.expected_node_order),
                "loops": r.loops,
                "decision": r.decision,
                "expected_decision": r.expected_decision,
                "violation_expected": r.violation_expected,
                "violation_caught": r.violation_caught,
                "run_latency_ms": fmt_ms(r.run_latency_ms),
                "latency_per_loop_ms": fmt_ms(round_ms(r.run_latency_ms) / r.coder_passes),
                "simulated": r.simulated,
                "warmup": r.warmup,
            }
            for r in runs
        ),
    )


def _per_loop(path: Path, line: int, row: dict[str, str]) -> float:
    passes = max(1, row["node_order"].split(">").count("coder"))
    return round_ms(parse_float(path, line, "run_latency_ms", row["run_latency_ms"]) / passes)


def _is_scripted(row: dict[str, str]) -> bool:
    return row["expected_node_order"] != UNSCRIPTED or row["expected_decision"] != UNSCRIPTED


def _conforms(row: dict[str, str]) -> bool:
    return row["expected_node_order"] in (UNSCRIPTED, row["node_order"]) and row[
        "expected_decision"
    ] in (UNSCRIPTED, row["decision"])


def figures(path: Path) -> dict[str, float | int | str]:
    """Loop latency p95, scenarios matching their script, violations caught and missed."""
    rows = read_csv(path, COLUMNS)
    warm = {i for i, r in enumerate(rows, 2) if parse_bool(path, i, "warmup", r["warmup"])}
    per_loop = [_per_loop(path, i, r) for i, r in enumerate(rows, start=2) if i not in warm]
    cold = [
        parse_float(path, i, "run_latency_ms", r["run_latency_ms"])
        for i, r in enumerate(rows, 2)
        if i in warm
    ]
    cold_start: float | str = round_ms(max(cold)) if cold else NOT_MEASURED
    if not per_loop:
        return {
            "graph_loop_latency_p95_ms": NOT_MEASURED,
            "scenario_conformance": NOT_MEASURED,
            "cold_start_ms": cold_start,
        }
    scripted = [r for r in rows if _is_scripted(r)]
    conforming = sum(_conforms(r) for r in scripted)
    expected = [
        r
        for i, r in enumerate(rows, 2)
        if parse_bool(path, i, "violation_expected", r["violation_expected"])
    ]
    caught = sum(r["violation_caught"] == "true" for r in expected)
    return {
        "graph_loop_latency_p95_ms": round_ms(percentile(per_loop, 95)),
        "cold_start_ms": cold_start,
        "measured_runs": len(per_loop),
        "scenario_conformance": round_ratio(conforming / len(scripted))
        if scripted
        else NOT_MEASURED,
        "unscripted_runs": len(rows) - len(scripted),
        "policy_violations_caught": caught,
        "policy_violations_missed": len(expected) - caught,
        "scenarios_run": len(rows),
        "refinement_loops_taken": sum(int(r["loops"] or 0) for r in rows),
    }


def consistency(path: Path) -> list[str]:
    """``latency_per_loop_ms`` must be the run latency over the coder passes of its row."""
    problems = []
    for line, row in enumerate(read_csv(path, COLUMNS), start=2):
        stated = parse_float(path, line, "latency_per_loop_ms", row["latency_per_loop_ms"])
        if abs(stated - _per_loop(path, line, row)) > 10**-4:
            problems.append(
                f"{path.name}: row {line}: latency_per_loop_ms={stated} does not recompute"
            )
    return problems
