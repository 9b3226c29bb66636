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
loop latency figures come from the measured runs after it (``graph_loop_latency_p95_ms__n``
is how many); conformance and the planted violations count every run, the warm-up included.

``replay_matched`` says whether the run's audit replay from its ledger reproduced every step's
state hash, the final one and a valid hash chain; ``replay_mismatches`` counts the runs whose
replay did not (``replay_detail`` says why). The scenario scripts' planted violations are
counted as ``scenario_violations_caught``/``_missed``; the guard's own coverage comes from the
guard corpus written beside this file (:mod:`~agent_platform.evidence.formats.guard`), whose
figures :func:`figures` adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_bool,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED, guard
from agent_platform.evidence.layout import GUARD_CORPUS, ORCHESTRATION_RUNS
from agent_platform.stats import percentile

__all__ = [
    "COLUMNS",
    "UNSCRIPTED",
    "ScenarioRun",
    "consistency",
    "figures",
    "guard_corpus_path",
    "write",
]

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
    "replay_matched",
    "replay_detail",
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
    replay_matched: bool = False
    replay_detail: str = ""

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
                "replay_matched": r.replay_matched,
                "replay_detail": r.replay_detail,
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


def guard_corpus_path(runs: Path) -> Path:
    """The guard corpus file of the evidence root ``runs`` (the runs file) belongs to."""
    root = runs
    for _ in PurePosixPath(ORCHESTRATION_RUNS).parts:
        root = root.parent
    return root / GUARD_CORPUS


def figures(path: Path, guard_path: Path | None = None) -> dict[str, float | int | str]:
    """Scenario figures (loop latency p95 with its n, conformance, replays, planted violations)
    and the guard corpus figures (``guard_path``, default: the one of the same evidence root)."""
    out = _scenario_figures(path)
    out.update(guard.figures(guard_path or guard_corpus_path(path)))
    return out


def _scenario_figures(path: Path) -> dict[str, float | int | str]:
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
            "replay_mismatches": NOT_MEASURED,
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
    matched = sum(
        parse_bool(path, i, "replay_matched", r["replay_matched"]) for i, r in enumerate(rows, 2)
    )
    return {
        "graph_loop_latency_p95_ms": round_ms(percentile(per_loop, 95)),
        "graph_loop_latency_p95_ms__n": len(per_loop),
        "cold_start_ms": cold_start,
        "measured_runs": len(per_loop),
        "scenario_conformance": round_ratio(conforming / len(scripted))
        if scripted
        else NOT_MEASURED,
        "scenario_conformance__k": conforming,
        "scenario_conformance__n": len(scripted),
        "unscripted_runs": len(rows) - len(scripted),
        "replay_mismatches": len(rows) - matched,
        "replays": len(rows),
        "scenario_violations_caught": caught,
        "scenario_violations_missed": len(expected) - caught,
        "scenarios_run": len(rows),
        "refinement_loops_taken": sum(int(r["loops"] or 0) for r in rows),
    }


def consistency(path: Path, guard_path: Path | None = None) -> list[str]:
    """``latency_per_loop_ms`` must be the run latency over the coder passes of its row, and
    the guard corpus's outcomes must follow from its rules."""
    problems = guard.consistency(guard_path or guard_corpus_path(path))
    for line, row in enumerate(read_csv(path, COLUMNS), start=2):
        stated = parse_float(path, line, "latency_per_loop_ms", row["latency_per_loop_ms"])
        if abs(stated - _per_loop(path, line, row)) > 10**-4:
            problems.append(
                f"{path.name}: row {line}: latency_per_loop_ms={stated} does not recompute"
            )
    return problems
