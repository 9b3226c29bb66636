"""The contract validator accepts an honest tree and rejects each kind of tampering.

Every case runs in a throwaway project under ``tmp_path`` (its own git checkout, contract,
policy and evidence written through the evidence formats), never in the real tree.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_platform.config import project_root
from agent_platform.errors import ConfigError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract import format_summary, validate_contract
from agent_platform.evidence.formats import (
    concurrency,
    finops,
    guard,
    notifications,
    orchestration,
    state,
)
from agent_platform.evidence.gate import GateRun, compute_gate, write_gate
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.perf_table import write_table
from tests.support.evidence import (
    COMPLIANT_RESIDENCY_ROWS,
    EvidenceRows,
    failover_outcomes,
    hindsight_decisions,
    write_evidence_tree,
)

RUN = "run-under-test"
T = "2026-06-01T10:00:00Z"
MODULE = "agent_platform/demo.py"


def _contract(root: Path) -> Path:
    real = json.loads(
        (project_root() / "contracts/phase_1_core_architecture.contract.json").read_text()
    )
    keep = {paths.GATE_PATH, paths.STATE_LATENCY, paths.BUDGET_REPORT, paths.DELIVERY_LOG}
    real["deliverables"] = [d for d in real["deliverables"] if d["path"] in keep] + [
        {
            "id": 99,
            "path": MODULE,
            "category": "core",
            "seed_path": "src/demo.py",
            "lines": {"min": 3, "max": 100},
            "required_patterns": [r"def double\("],
        }
    ]
    real["forbidden_patterns"]["scan"] = ["agent_platform/**/*.py"]
    real["cross_file_checks"] = [
        c for c in real["cross_file_checks"] if c["id"] in ("budget_caps", "evidence_paths_exist")
    ]
    path = root / "contracts" / "c.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(real, indent=2))
    return path


def _honest_rows() -> EvidenceRows:
    return EvidenceRows(
        latency=[
            # Two sessions, each read first at i = 0 and 1 (misses), then hits: what an ideal
            # cache does on this trace, so hit_ratio_vs_ideal is 1.
            state.LatencySample(
                T, op, 0.5 + i / 100, 1, "hit" if i >= 2 else "miss", f"s{i % 2}", i, i + 0.01
            )
            for i in range(600)
            for op in ("get", "save", "ledger_append")
        ],
        decisions=hindsight_decisions(T, pick="anthropic", count=60),
        failover=failover_outcomes(
            T, tried=("anthropic", "openai"), final="openai", error="", count=400
        ),
        deliveries=[
            notifications.DeliveryRow(
                T, "hook", f"c{i}", "delivered", 3.0, 1, f"n{i}", "webhook", 12.0
            )
            for i in range(800)
        ],
        budget_days=[
            finops.BudgetDay(f"2026-06-{d:02d}", 1, 400.0, 450.0, 400.0 * d, 12000.0, 10, 0)
            for d in range(1, 26)
        ],
        alerts=[
            finops.AlertRow("2026-06-10T10:00:00Z", "forecast", 4000, 12000, "c"),
            finops.AlertRow("2026-06-29T10:00:00Z", finops.CAP_EXHAUSTED, 11990, 12000, ""),
        ],
        reservations=[
            concurrency.ReservationAttempt(
                T, n, "day:2026-06-15", "held" if n < 10 else "refused", 0.5, 444.0, 450.0
            )
            for n in range(64)
        ],
        store_total_eur=449.0,
        scenarios=[
            orchestration.ScenarioRun(
                T,
                "violation",
                ("planner",),
                ("planner",),
                0,
                "rejected",
                "rejected",
                True,
                True,
                40.0,
                True,
                replay_matched=True,
            )
        ],
        package_markdown="# Package report\n",
        package_summary={
            "summary": {
                "total": 3,
                "verified": 3,
                "unverified": 0,
                "vulnerabilities": 0,
                "execution_seconds": 1.5,
            },
            "runs": [{"packages": [{"name": f"p{i}", "verified": True} for i in range(3)]}],
        },
        residency_row=COMPLIANT_RESIDENCY_ROWS,
        budget_windows=[
            *(finops.BudgetWindow(f"day:2026-06-{d:02d}", 450.0, 400.0, 0.0) for d in range(1, 26)),
            finops.BudgetWindow("month:2026-06", 12000.0, 10000.0, 0.0),
        ],
        guard_cases=[
            guard.GuardCase(T, "caught", "bundle", "forbidden_call", ("forbidden_call",)),
            guard.GuardCase(T, "clean", "bundle", None, ()),
        ],
    )


def build_project(tmp_path: Path) -> tuple[Path, Path]:
    """A committed throwaway project with an honest run's evidence, gate and table."""
    root = tmp_path / "project"
    (root / "agent_platform").mkdir(parents=True)
    (root / MODULE).write_text('"""Demo."""\n\n\ndef double(x: int) -> int:\n    return 2 * x\n')
    (root / "policies").mkdir()
    shutil.copy(project_root() / "policies/finops.yaml", root / "policies/finops.yaml")
    contract = _contract(root)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fixture"], check=True)
    write_evidence_tree(
        EvidenceLayout(root),
        _honest_rows(),
        run_id=RUN,
        at=T,
        backends={"database": "sqlite"},
        scale="full",
    )
    from agent_platform.evidence.contract_model import load_contract

    rules = load_contract(contract)
    gate = compute_gate(GateRun(root, root, RUN, T), rules)
    write_gate(root, gate)
    write_table(root, gate, rules)
    return root, contract


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return build_project(tmp_path)


def failed(root: Path, contract: Path) -> set[str]:
    return {c.id for c in validate_contract(contract, root).checks if not c.passed}


def test_an_honest_tree_is_accepted(project: tuple[Path, Path]) -> None:
    root, contract = project
    report = validate_contract(contract, root)
    assert [(c.id, c.detail) for c in report.checks if not c.passed] == []
    assert report.passed


def test_an_edited_csv_cell_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    path = root / paths.STATE_LATENCY
    path.write_text(path.read_text().replace("0.5000,sample", "0.4000,sample", 1))
    assert {"gate:hashes", "gate:figures:state_fabric"} <= failed(root, contract)
    checks = {c.id: c.detail for c in validate_contract(contract, root).checks}
    assert "changed after the gate was written: re-run `make gate`" in checks["gate:hashes"]


def test_an_edited_gate_figure_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    gate = json.loads((root / paths.GATE_PATH).read_text())
    gate["subsystems"]["router"]["figures"]["routing_accuracy"] = 0.99
    (root / paths.GATE_PATH).write_text(json.dumps(gate, indent=2))
    assert "gate:figures:router" in failed(root, contract)


def test_a_deleted_evidence_file_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    (root / paths.DELIVERY_LOG).unlink()
    assert {
        f"deliverable:{paths.DELIVERY_LOG}",
        "gate:hashes",
        "cross_file:evidence_paths_exist",
    } <= failed(root, contract)


def test_a_planted_marker_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    with (root / MODULE).open("a") as handle:
        handle.write("# " + "TO" + "DO: handle negatives\n")
    assert {"forbidden_patterns", "gate:counts"} <= failed(root, contract)


def test_a_stub_body_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    with (root / MODULE).open("a") as handle:
        handle.write("\n\ndef triple(x: int) -> int:\n    pass\n")
    assert "forbidden_patterns" in failed(root, contract)


def test_mismatched_caps_are_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    policy = root / "policies/finops.yaml"
    policy.write_text(policy.read_text().replace("daily_eur_cap: 450", "daily_eur_cap: 500", 1))
    assert "cross_file:budget_caps" in failed(root, contract)


def test_a_gate_from_another_commit_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    gate = json.loads((root / paths.GATE_PATH).read_text())
    gate["commit"] = "unknown"
    (root / paths.GATE_PATH).write_text(json.dumps(gate))
    assert "gate:commit" in failed(root, contract)


def _with_thin_script(root: Path, contract: Path, deviation: str | None) -> None:
    """Add a thin script whose line range is counted over it plus the demo module."""
    script = root / "scripts/tool.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text('"""Thin CLI: --double."""\n\nfrom agent_platform.demo import double\n')
    data = json.loads(contract.read_text())
    item = {
        "id": 98,
        "path": "scripts/tool.py",
        "category": "script",
        "seed_path": "scripts/tool.py",
        "lines": {"min": 6, "max": 9},
        "required_patterns": ["--double"],
        "implementation": [MODULE],
    }
    if deviation is not None:
        item["deviation"] = deviation
    data["deliverables"].append(item)
    contract.write_text(json.dumps(data))


def test_a_thin_script_range_is_reported_not_applicable_with_its_deviation_text(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    _with_thin_script(root, contract, "the script is a thin CLI over agent_platform.demo")
    report = validate_contract(contract, root)
    check = {c.id: c for c in report.checks}["deliverable:scripts/tool.py"]
    assert (check.outcome, check.passed) == ("N/A", True)
    assert check.detail.startswith(
        "range N/A (deviation: the script is a thin CLI over agent_platform.demo); "
        "8 lines over scripts/tool.py + agent_platform/demo.py (seed range 6..9)"
    )
    assert not any(c.id.startswith("deviation:") for c in report.checks)
    summary = format_summary(report)
    assert (
        "N/A   deliverable:scripts/tool.py: range N/A (deviation: the script is a thin" in summary
    )
    (root / MODULE).unlink()
    assert "deliverable:scripts/tool.py" in failed(root, contract)


def test_counting_other_files_without_a_deviation_note_is_refused(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    _with_thin_script(root, contract, None)
    with pytest.raises(ConfigError, match="deviation"):
        validate_contract(contract, root)


def test_every_judged_figure_states_kind_and_backend_and_every_rate_its_n_and_interval(
    project: tuple[Path, Path],
) -> None:
    root, _contract = project
    gate = json.loads((root / paths.GATE_PATH).read_text())
    judged = {
        figure: entry
        for sub in gate["subsystems"].values()
        for figure, entry in sub["judged"].items()
    }
    assert len(judged) == 25
    for figure, entry in judged.items():
        assert entry["kind"] in ("deterministic", "timed"), figure
        assert entry["backend"] == {"database": "sqlite"}, figure
        if entry["statistic"] == "rate":
            assert entry["n"] >= 1 and len(entry["interval"]) == 2, figure
            assert entry["interval"][0] <= entry["value"] <= entry["interval"][1], figure
    assert judged["save_latency_p95_ms"]["met_on_substitute"] == "sqlite for postgresql"
    assert judged["failover_success_rate"]["interval"] == [0.990488, 1.0]
    assert judged["failover_success_rate"]["verdict"] == "PASS"
