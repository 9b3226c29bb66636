"""The validator recomputes the whole gate document, so every kind of edit to it is rejected.

Each test edits one thing of an honest gate (or the tree around it) in a throwaway committed
project and asserts the check that must catch it; the honest tree itself is accepted (see
``test_evidence_validator``). Also covered: the generated performance table and the
document's copy, and the clean-tree requirement.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract import validate_contract
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.perf_table import (
    BEGIN,
    DOC_PATH,
    END,
    TABLE_PATH,
    render_table,
)
from tests.integration.test_evidence_validator import RUN, build_project, failed

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    return build_project(tmp_path)


def _tamper(root: Path, edit: Edit) -> None:
    gate_path = root / paths.GATE_PATH
    gate = json.loads(gate_path.read_text())
    edit(gate)
    gate_path.write_text(json.dumps(gate, indent=2))


def _claim_full_scale(gate: dict[str, Any]) -> None:
    gate["workload_sizes"]["finops"] = {"scale": "full", "days": 31}


def _claim_real_providers(gate: dict[str, Any]) -> None:
    gate["backends"]["providers_simulated"] = False


def _drop_hash(gate: dict[str, Any]) -> None:
    del gate["evidence_files"][paths.DELIVERY_LOG]


def _loosen_threshold(gate: dict[str, Any]) -> None:
    gate["subsystems"]["router"]["thresholds"]["routing_accuracy"] = ">= 0.5"


def _invent_figure(gate: dict[str, Any]) -> None:
    gate["subsystems"]["router"]["figures"]["routing_accuracy_adjusted"] = 0.99


def _inflate_quality_gates(gate: dict[str, Any]) -> None:
    gate["quality_gates_passed"] = 99


def _claim_clean_tree(gate: dict[str, Any]) -> None:
    gate["worktree_dirty"] = True


def _claim_real_provider_traffic(gate: dict[str, Any]) -> None:
    gate["provider_traffic"] = {"router": "real"}


def _add_top_level_claim(gate: dict[str, Any]) -> None:
    gate["validation_result"] = "ACCEPTED"


@pytest.mark.parametrize(
    ("edit", "caught_by"),
    [
        (_claim_full_scale, "gate:document"),
        (_claim_real_providers, "gate:document"),
        (_drop_hash, "gate:hashes"),
        (_loosen_threshold, "gate:thresholds:router"),
        (_invent_figure, "gate:figures:router"),
        (_inflate_quality_gates, "gate:counts"),
        (_claim_clean_tree, "gate:document"),
        (_add_top_level_claim, "gate:document"),
        (_claim_real_provider_traffic, "gate:document"),
    ],
)
def test_each_gate_edit_is_rejected(project: tuple[Path, Path], edit: Edit, caught_by: str) -> None:
    root, contract = project
    _tamper(root, edit)
    assert caught_by in failed(root, contract)
    assert not validate_contract(contract, root).passed


def test_the_reviewers_combined_tampering_is_rejected_with_every_lie_named(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    for edit in (
        _claim_full_scale,
        _claim_real_providers,
        _drop_hash,
        _loosen_threshold,
        _invent_figure,
        _inflate_quality_gates,
    ):
        _tamper(root, edit)
    checks = {c.id: c for c in validate_contract(contract, root).checks}
    document = checks["gate:document"].detail
    assert "workload_sizes.finops.days: gate says 31, recomputed 30" in document
    assert (
        "backends.providers_simulated: not recomputed from the files (gate says False)" in document
    )
    assert f"{paths.DELIVERY_LOG} has no hash entry in the gate" in checks["gate:hashes"].detail
    assert "routing_accuracy_adjusted: not recomputed" in checks["gate:figures:router"].detail
    assert "quality_gates_passed: gate says 99" in checks["gate:counts"].detail
    assert not checks["gate:thresholds:router"].passed


def test_a_hash_entry_for_a_file_no_manifest_wrote_is_rejected(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    extra = root / "metrics/extra.csv"
    extra.write_text("a\n1\n")
    _tamper(root, lambda g: g["evidence_files"].update({"metrics/extra.csv": "0" * 64}))
    checks = {c.id: c for c in validate_contract(contract, root).checks}
    assert "metrics/extra.csv is in the gate but in no manifest" in checks["gate:hashes"].detail


def test_a_hash_edited_in_both_gate_and_manifest_is_rejected(project: tuple[Path, Path]) -> None:
    root, contract = project
    manifest = root / paths.MANIFEST_DIR / "notifications.json"
    data = json.loads(manifest.read_text())
    data["files"][paths.DELIVERY_LOG] = "f" * 64
    manifest.write_text(json.dumps(data))
    _tamper(root, lambda g: g["evidence_files"].update({paths.DELIVERY_LOG: "f" * 64}))
    assert {"gate:hashes", "gate:figures:notifications"} <= failed(root, contract)


def test_untracked_and_modified_sources_make_the_tree_dirty_but_generated_paths_do_not(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    (root / paths.MANIFEST_DIR / "scratch.txt").write_text("generated\n")
    (root / ".data").mkdir()
    (root / ".data" / "db.sqlite3").write_text("x")
    doc = root / DOC_PATH
    doc.parent.mkdir(parents=True)
    doc.write_text("# Architecture\n")
    assert "gate:worktree" not in failed(root, contract)
    (root / "agent_platform" / "only_here.py").write_text('"""Not committed."""\n')
    checks = {c.id: c for c in validate_contract(contract, root).checks}
    assert not checks["gate:worktree"].passed
    assert "agent_platform/only_here.py" in checks["gate:worktree"].detail


def test_the_generated_table_must_be_there_and_equal_the_gates(project: tuple[Path, Path]) -> None:
    root, contract = project
    table = root / TABLE_PATH
    table.write_text(table.read_text().replace("| pass |", "| FAIL |", 1))
    assert "gate:table" in failed(root, contract)
    table.unlink()
    assert "gate:table" in failed(root, contract)


def _doc_with_block(root: Path, block: str) -> None:
    doc = root / DOC_PATH
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"# Architecture\n\n{BEGIN}\n{block}\n{END}\n")


def _rendered(root: Path, contract: Path) -> str:
    gate = json.loads((root / paths.GATE_PATH).read_text())
    return render_table(gate, load_contract(contract))


def test_the_document_block_of_this_run_must_equal_the_gates_table(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    block = _rendered(root, contract)
    assert block.startswith(f"Run `{RUN}` at commit `")
    assert "scale: full; simulated providers: not recorded" in block.splitlines()[0]
    _doc_with_block(root, block)
    checks = {c.id: c for c in validate_contract(contract, root).checks}
    assert (checks["doc:table"].outcome, checks["doc:table"].passed) == ("PASS", True)
    _doc_with_block(root, block.replace("| pass |", "| FAIL |", 1))
    assert "doc:table" in failed(root, contract)


def test_a_document_block_of_another_run_is_a_note_not_a_failure(
    project: tuple[Path, Path],
) -> None:
    root, contract = project
    other = _rendered(root, contract).replace(RUN, "an-earlier-run", 1)
    _doc_with_block(root, other.replace("| pass |", "| FAIL |", 1))
    report = validate_contract(contract, root)
    check = {c.id: c for c in report.checks}["doc:table"]
    assert (check.outcome, check.passed) == ("NOTE", True)
    assert check.detail == "document table is from run an-earlier-run"
    assert report.passed
