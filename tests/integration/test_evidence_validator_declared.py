"""The validator holds a run to what it declares: scale sizes, sample counts, time window.

And what it cannot see without re-measuring: a consistent rewrite (files, manifest and gate
regenerated together through the project's own writers) passes these checks. That is the
documented limitation ``validate_contract.py --reproduce`` exists for (see
``test_evidence_reproduce``).
"""

from pathlib import Path
from typing import Any

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract import validate_contract
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.formats import state
from agent_platform.evidence.gate import GateRun, compute_gate, write_gate
from agent_platform.evidence.layout import EvidenceLayout, workload
from agent_platform.evidence.manifest import read_manifest, record_workload
from agent_platform.evidence.perf_table import write_table
from agent_platform.evidence.sizes import SIZES, expected_sizes
from tests.integration.test_evidence_validator import RUN, T, build_project, failed


def _rerecord(root: Path, contract: Path, name: str, **changes: Any) -> None:
    """Re-record workload ``name``'s manifest with ``changes``, then the gate and its table,
    as a run would have written them."""
    lay = EvidenceLayout(root)
    old = read_manifest(lay, name)
    assert old is not None
    record_workload(
        lay,
        workload=name,
        run_id=RUN,
        started_at=changes.get("started_at", old.started_at),
        finished_at=changes.get("finished_at", old.finished_at),
        files=workload(name).files,
        workload_sizes=changes.get("workload_sizes", old.workload_sizes),
        backends=old.backends,
        declared=changes.get("declared", old.declared),
    )
    rules = load_contract(contract)
    gate = compute_gate(GateRun(root, root, RUN, T), rules)
    write_gate(root, gate)
    write_table(root, gate, rules)


def _detail(root: Path, contract: Path, check: str) -> str:
    return {c.id: c for c in validate_contract(contract, root).checks}[check].detail


def test_reduced_sizes_under_a_full_scale_claim_are_rejected(tmp_path: Path) -> None:
    root, contract = build_project(tmp_path)
    described = {**SIZES["full"]["state_fabric"], "scale": "full", "hot_share": 0.8}
    _rerecord(root, contract, "state_fabric", workload_sizes=described)
    assert "declared:sizes" not in failed(root, contract)  # more said about the run is fine
    sizes = {"scale": "full", **SIZES["reduced"]["state_fabric"]}
    _rerecord(root, contract, "state_fabric", workload_sizes=sizes)
    assert failed(root, contract) == {"declared:sizes"}
    assert "state_fabric: sizes" in _detail(root, contract, "declared:sizes")
    assert "are not scale full's" in _detail(root, contract, "declared:sizes")


def test_workloads_of_one_gate_at_different_scales_are_rejected(tmp_path: Path) -> None:
    root, contract = build_project(tmp_path)
    _rerecord(
        root, contract, "notifications", workload_sizes=expected_sizes("reduced", "notifications")
    )
    assert "different scales ['full', 'reduced']" in _detail(root, contract, "declared:sizes")
    assert "declared:sizes" in failed(root, contract)


def test_sample_rows_must_equal_what_the_workload_declares(tmp_path: Path) -> None:
    root, contract = build_project(tmp_path)
    _rerecord(root, contract, "state_fabric", declared={"samples": {paths.STATE_LATENCY: 1800}})
    assert "declared:samples" not in failed(root, contract)
    assert _detail(root, contract, "declared:samples").startswith("1 files hold the sample rows")
    _rerecord(root, contract, "state_fabric", declared={"samples": {paths.STATE_LATENCY: 2000}})
    assert failed(root, contract) == {"declared:samples"}
    assert _detail(root, contract, "declared:samples") == (
        f"{paths.STATE_LATENCY}: 1800 sample rows, state_fabric declares 2000"
    )


def test_a_sample_stamped_outside_its_workloads_window_is_rejected(tmp_path: Path) -> None:
    root, contract = build_project(tmp_path)
    assert "declared:timestamps" not in failed(root, contract)
    samples = [state.LatencySample(T, op, 0.5, 1, "hit") for op in ("get", "save", "ledger_append")]
    samples.append(state.LatencySample("2026-05-31T10:00:00Z", "get", 0.5, 1, "hit"))
    state.write(root / paths.STATE_LATENCY, samples * 300, T)
    _rerecord(root, contract, "state_fabric")
    detail = _detail(root, contract, "declared:timestamps")
    assert detail.startswith(f"{paths.STATE_LATENCY}: 300 rows outside the window")
    assert "(first 2026-05-31T10:00:00Z)" in detail
    assert "declared:timestamps" in failed(root, contract)


def test_a_consistent_rewrite_passes_the_plain_validator_a_documented_limitation(
    tmp_path: Path,
) -> None:
    """Invented samples (0.001 ms, every repeat read a hit) written through the project's own writer,
    the manifest re-hashed, the gate recomputed: every check without re-measuring passes."""
    root, contract = build_project(tmp_path)
    invented = [
        state.LatencySample(
            T, op, 0.001, 1, "hit" if i >= 2 else "miss", f"s{i % 2}", i, i + 0.01
        )  # every get a hit after each session's first read: what an ideal cache reaches
        for i in range(600)
        for op in ("get", "save", "ledger_append")
    ]
    state.write(root / paths.STATE_LATENCY, invented, T, ttl_s=60.0)
    _rerecord(root, contract, "state_fabric")
    report = validate_contract(contract, root)
    assert [c.id for c in report.checks if not c.passed] == []
    figures = {c.id: c.detail for c in report.checks}["gate:figures:state_fabric"]
    assert "status PASS" in figures
