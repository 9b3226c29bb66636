"""The G1 gate asset: the verdict computed from the evidence files of this run.

It depends on every evidence asset (so it runs last) but takes nothing from them in memory:
:func:`agent_platform.evidence.gate.compute_gate` reads the files and manifests back. A workload
that was skipped in this run leaves its subsystem ``NOT_MEASURED`` and the gate ``FAIL``.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from agent_platform.evidence.gate import GateRun, compute_gate, write_gate
from agent_platform.evidence.perf_table import write_table
from assets._common import figure_metadata, path_metadata, typed_table
from jobs.resources import EvidenceResource

__all__ = ["GATE_KEY", "build_gate_asset", "gate_metadata", "gate_status_check"]

GATE_KEY = AssetKey(["g1_architecture_gate"])


def _run_started(context: AssetExecutionContext) -> str:
    stats = context.instance.get_run_stats(context.run.run_id)
    moment = stats.start_time if stats.start_time is not None else datetime.now(UTC).timestamp()
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def gate_metadata(document: dict[str, Any], path: Path) -> dict[str, MetadataValue]:
    """The gate's metadata, typed: every figure of every subsystem as a float or int entry
    named ``subsystem.figure`` (so the UI's Plots tab draws each over runs), the counts as
    ints, the verdict per subsystem as a table with a schema, the gate JSON as a path."""
    subsystems = document["subsystems"]
    rows = [
        (name, sub["status"], ", ".join(sub["failed"]) or "-", "; ".join(sub["notes"]) or "-")
        for name, sub in subsystems.items()
    ]
    metadata: dict[str, MetadataValue] = {
        "path": path_metadata(path),
        "status": MetadataValue.text(document["status"]),
        "commit": MetadataValue.text(document["commit"]),
        "subsystems passing": MetadataValue.int(
            sum(s["status"] == "PASS" for s in subsystems.values())
        ),
        "quality_gates_passed": MetadataValue.int(document["quality_gates_passed"]),
        "quality_gates_failed": MetadataValue.int(document["quality_gates_failed"]),
        "subsystems": typed_table(("subsystem", "status", "failed", "notes"), rows),
    }
    for name, sub in subsystems.items():
        metadata.update(figure_metadata(sub["figures"], prefix=f"{name}."))
    return metadata


def build_gate_asset(evidence_keys: Sequence[AssetKey]) -> AssetsDefinition:
    """The gate asset, downstream of ``evidence_keys``."""

    @asset(
        key=GATE_KEY,
        deps=list(evidence_keys),
        group_name="gate",
        description="evidence/gates/g1_architecture.json, computed from this run's files.",
    )
    def g1_architecture_gate(
        context: AssetExecutionContext, evidence: EvidenceResource
    ) -> MaterializeResult:
        run = GateRun(
            evidence_root=evidence.evidence_root(),
            project_root=evidence.project_root(),
            run_id=context.run.run_id,
            started_at=_run_started(context),
        )
        contract = evidence.contract()
        document = compute_gate(run, contract)
        path = write_gate(run.evidence_root, document)
        write_table(run.evidence_root, document, contract)
        context.log.info(f"gate {document['status']}: wrote {path}")
        return MaterializeResult(metadata=gate_metadata(document, path))

    return g1_architecture_gate


@asset_check(asset=GATE_KEY, name="gate_status_pass", blocking=False)
def gate_status_check(evidence: EvidenceResource) -> AssetCheckResult:
    """The gate JSON just written says PASS."""
    document = json.loads(evidence.layout().gate.read_text(encoding="utf-8"))
    failing = {n: s["status"] for n, s in document["subsystems"].items() if s["status"] != "PASS"}
    return AssetCheckResult(
        passed=document["status"] == "PASS",
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "status": MetadataValue.text(document["status"]),
            "subsystems not passing": MetadataValue.int(len(failing)),
            "not passing": MetadataValue.text(str(failing or "none")),
        },
    )
