"""The guard corpus and budget window formats: figures recomputed, stated outcomes checked."""

from __future__ import annotations

from pathlib import Path

from agent_platform.evidence.formats import NOT_MEASURED, finops, guard, orchestration

T = "2026-06-01T10:00:00Z"


def _corpus(path: Path) -> None:
    guard.write(
        path,
        [
            guard.GuardCase(T, "v1", "bundle", "forbidden_call", ("forbidden_call",)),
            guard.GuardCase(T, "v2", "plan", "write_outside_workspace", ()),
            guard.GuardCase(T, "c1", "bundle", None, ()),
            guard.GuardCase(T, "c2", "bundle", None, ("hardcoded_secret",)),
        ],
    )


def test_guard_figures_count_caught_missed_and_false_positives_with_n(tmp_path: Path):
    path = tmp_path / "g.csv"
    _corpus(path)
    figures = guard.figures(path)
    assert figures["policy_violations_caught"] == 1
    assert figures["policy_violations_missed"] == 1
    assert figures["guard_false_positives"] == 1
    assert (figures["guard_catch_rate__k"], figures["guard_catch_rate__n"]) == (1, 2)
    assert figures["guard_false_positive_rate__n"] == 2
    assert guard.consistency(path) == []


def test_an_edited_outcome_does_not_change_the_figures_and_is_reported(tmp_path: Path):
    path = tmp_path / "g.csv"
    _corpus(path)
    path.write_text(path.read_text().replace(",,missed", ",,caught"))
    assert guard.figures(path)["policy_violations_missed"] == 1
    assert guard.consistency(path) == ["g.csv: row 3: outcome=caught but is missed"]


def test_no_corpus_file_means_no_guard_figures(tmp_path: Path):
    assert guard.figures(tmp_path / "absent.csv")["guard_false_positives"] == NOT_MEASURED


def test_replay_mismatches_count_runs_whose_replay_did_not_match(tmp_path: Path):
    nodes = ("planner", "coder", "critic", "qa", "approver")

    def run(matched: bool) -> orchestration.ScenarioRun:
        return orchestration.ScenarioRun(
            T, "s", nodes, nodes, 0, "approved", "approved", False, False, 300.0, True,
            replay_matched=matched, replay_detail="" if matched else "final state hash differs",
        )  # fmt: skip

    path, corpus = tmp_path / "o.csv", tmp_path / "g.csv"
    _corpus(corpus)
    orchestration.write(path, [run(True), run(False), run(True)])
    figures = orchestration.figures(path, corpus)
    assert (figures["replay_mismatches"], figures["replays"]) == (1, 3)
    assert figures["policy_violations_missed"] == 1


def test_breaches_are_counted_from_committed_and_cap_not_from_the_stated_flag(tmp_path: Path):
    path = tmp_path / "budget_windows.csv"
    finops.write_windows(
        path,
        [
            finops.BudgetWindow("day:2026-06-01", 450.0, 450.004, 0.0),
            finops.BudgetWindow("day:2026-06-02", 450.0, 450.41, 0.0),
            finops.BudgetWindow("month:2026-06", 12000.0, 900.41, 0.0),
        ],
    )
    figures = finops.window_figures(path)
    assert (figures["budget_breaches"], figures["daily_breaches"]) == (1, 1)
    assert figures["monthly_breaches"] == 0
    assert figures["worst_overrun_eur"] == 0.41
    assert finops.window_consistency(path) == []
    path.write_text(
        path.read_text().replace("450.410000,0.000000,true", "450.410000,0.000000,false")
    )
    assert finops.window_figures(path)["budget_breaches"] == 1
    assert len(finops.window_consistency(path)) == 1


def test_no_window_table_means_breaches_not_measured(tmp_path: Path):
    assert finops.window_figures(tmp_path / "absent.csv")["budget_breaches"] == NOT_MEASURED
