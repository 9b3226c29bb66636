"""``--reproduce`` re-measures: an untouched run reproduces, a consistent rewrite does not.

The recorded run is this commit's state fabric workload at reduced scale, run in a scratch
worktree exactly as the reproduction runs it; each test then reproduces it from the gate's
commit in another scratch worktree. Marked ``reproduce`` (each run takes tens of seconds):
``pytest -m reproduce`` selects them, ``-m "not reproduce"`` leaves them out.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_platform.config import project_root
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract, load_contract
from agent_platform.evidence.csvio import read_csv
from agent_platform.evidence.files import git_commit
from agent_platform.evidence.formats import state
from agent_platform.evidence.gate import GateRun, compute_gate
from agent_platform.evidence.layout import EvidenceLayout, workload
from agent_platform.evidence.manifest import read_manifest, record_workload
from agent_platform.evidence.reproduce import reproduce, run_evidence, scratch_checkout
from scripts.validate_contract import main

pytestmark = [pytest.mark.reproduce, pytest.mark.timeout(1200)]

CONTRACT = "contracts/phase_1_core_architecture.contract.json"
Recorded = tuple[Path, Contract, dict[str, Any]]


def _gate(project: Path, contract: Contract) -> dict[str, Any]:
    manifest = read_manifest(EvidenceLayout(project), "state_fabric")
    assert manifest is not None
    return compute_gate(GateRun(project, project, manifest.run_id, manifest.started_at), contract)


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    root = project_root()
    with scratch_checkout(root, git_commit(root)) as project:
        output = run_evidence(project, "reduced", "state_fabric", 900)
        contract = load_contract(project / CONTRACT)
        gate = _gate(project, contract)
        assert gate["subsystems"]["state_fabric"]["status"] == "PASS", output
        yield project, contract, gate


def test_an_untouched_run_reproduces(recorded: Recorded) -> None:
    project, contract, gate = recorded
    outcome = reproduce(project, contract, gate, only="state_fabric")
    assert outcome.scale == "reduced"
    assert [c.figure for c in outcome.comparisons] == [
        t.figure for t in contract.thresholds_for("state_fabric")
    ]
    assert outcome.mismatches == [], [c.detail for c in outcome.mismatches]
    assert outcome.passed
    listing = subprocess.run(
        ["git", "-C", str(project_root()), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert listing.count("ap-reproduce-") == 1  # the recorded run's; the reproduction's is gone


def test_a_consistent_rewrite_is_rejected_naming_the_figure(recorded: Recorded) -> None:
    """Invented samples (0.001 ms for every call), written through the project's own writer,
    re-hashed into the manifest and recomputed into the gate: re-measuring exposes them."""
    project, contract, _gate_recorded = recorded
    lay = EvidenceLayout(project)
    path = lay.path(paths.STATE_LATENCY)
    rows = [r for r in read_csv(path, state.COLUMNS) if r["percentile"] == "sample"]
    ttl = next(
        float(r["value"]) for r in read_csv(path, state.COLUMNS) if r["percentile"] == "ttl_s"
    )
    invented = [
        state.LatencySample(
            r["timestamp"],
            r["operation"],
            0.001,  # invented: a thousandth of a millisecond for every call
            int(r["round"]),
            r["outcome"],  # the trace kept as measured, so the ideal-cache check still holds
            r["session"],
            float(r["started_s"]),
            float(r["ended_s"]),
        )
        for r in rows
    ]
    manifest = read_manifest(lay, "state_fabric")
    assert manifest is not None
    state.write(path, invented, manifest.finished_at, ttl)
    record_workload(
        lay,
        workload="state_fabric",
        run_id=manifest.run_id,
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        files=workload("state_fabric").files,
        workload_sizes=manifest.workload_sizes,
        backends=manifest.backends,
        declared=manifest.declared,
    )
    forged = _gate(project, contract)
    judged = forged["subsystems"]["state_fabric"]["judged"]
    assert judged["get_latency_p95_ms"]["value"] == 0.001
    assert forged["subsystems"]["state_fabric"]["status"] == "PASS"
    outcome = reproduce(project, contract, forged, only="state_fabric")
    assert not outcome.passed
    named = {c.figure: c for c in outcome.mismatches}
    assert "get_latency_p95_ms" in named
    assert named["get_latency_p95_ms"].recorded == 0.001
    assert named["get_latency_p95_ms"].reproduced > 0.001
    assert "of the recorded value" in named["get_latency_p95_ms"].detail


def test_bad_reproduce_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    contract = str(project_root() / CONTRACT)
    assert main([contract, "--only", "state_fabric"]) == 2
    assert "--only needs --reproduce" in capsys.readouterr().err
    assert main([contract, "--reproduce", "--only", "cache"]) == 2
    assert "--only 'cache': allowed: state_fabric, orchestration" in capsys.readouterr().err
