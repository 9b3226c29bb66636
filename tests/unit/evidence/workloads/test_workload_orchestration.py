"""The orchestration workload's rows: planted violations, replay verdicts, and the corpus path."""

from __future__ import annotations

from pathlib import Path

from agent_platform.evidence.formats import guard, orchestration
from agent_platform.evidence.layout import GUARD_CORPUS, ORCHESTRATION_RUNS, EvidenceLayout
from agent_platform.evidence.workloads.orchestration import expected_violations, scenario_row
from agent_platform.orchestration.scenarios import ScenarioFigures, list_scenarios


def test_the_policy_violation_scenario_plants_a_forbidden_call():
    rules = expected_violations(list_scenarios())
    assert rules["policy_violation"] == "forbidden_call"
    assert rules["approve_first_pass"] is None


def _figures(replay_ok: bool) -> ScenarioFigures:
    return ScenarioFigures(
        scenario="policy_violation", run_id="r1", decision="rejected",
        expected_decision="rejected", history=["planner", "coder"],
        expected_history=["planner", "coder"], matches_expectation=True, refinements=0,
        loops_taken=0, violations_caught=2, violation_rules=["forbidden_call", "hardcoded_secret"],
        run_latency_ms=40.0, cost_eur=0.0, replay_ok=replay_ok, simulated=True,
        replay_detail="" if replay_ok else "final state hash differs",
    )  # fmt: skip


def test_a_row_keeps_the_replay_verdict_and_whether_the_planted_rule_was_caught():
    row = scenario_row(_figures(False), "2026-06-01T10:00:00Z", "forbidden_call", warmup=False)
    assert row.violation_expected and row.violation_caught
    assert (row.replay_matched, row.replay_detail) == (False, "final state hash differs")
    assert scenario_row(_figures(True), "t", None, warmup=True).violation_expected is False


def test_the_runs_file_finds_the_guard_corpus_of_its_own_evidence_root(tmp_path: Path):
    lay = EvidenceLayout(tmp_path)
    row = scenario_row(_figures(True), "t", "forbidden_call", warmup=False)
    orchestration.write(lay.path(ORCHESTRATION_RUNS), [row])
    cases = [
        guard.GuardCase("t", "v", "bundle", "stub_body", ("stub_body",)),
        guard.GuardCase("t", "c", "bundle", None, ()),
    ]
    guard.write(lay.path(GUARD_CORPUS), cases)
    assert orchestration.guard_corpus_path(lay.path(ORCHESTRATION_RUNS)) == lay.path(GUARD_CORPUS)
    figures = orchestration.figures(lay.path(ORCHESTRATION_RUNS))
    assert (figures["policy_violations_caught"], figures["guard_false_positives"]) == (1, 0)
    assert figures["replay_mismatches"] == 0
