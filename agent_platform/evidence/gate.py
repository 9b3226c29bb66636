"""The G1 gate: per-subsystem verdicts computed from the evidence files of one run.

:func:`compute_gate` reads every workload's manifest and files, recomputes the figures with
the format readers, holds them to the contract's thresholds and records the provenance (file
hashes, git commit, backends, machine, times, workload sizes). A workload that did not run in
this run, or whose files changed since it wrote them, leaves its figures ``NOT_MEASURED`` and
its subsystem not passing. The overall status is PASS only when every subsystem passes and
the commit is known.

Each threshold is judged by :mod:`agent_platform.evidence.judge` (a rate by its Wilson bound
and its n, every figure with its kind and the backend it ran on); the gate states what the
files support, it does not by itself show the files were measured rather than written: that
is what ``validate_contract.py --reproduce`` checks by measuring again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.figures import Figures, workload_consistency, workload_figures
from agent_platform.evidence.files import (
    UNKNOWN_COMMIT,
    count_lines,
    git_commit,
    git_dirty,
    machine_info,
    sha256_file,
    utc_now_iso,
    write_text_atomic,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.judge import judge
from agent_platform.evidence.layout import GATE_PATH, SUBSYSTEMS, WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import WorkloadManifest, read_manifest, staleness
from agent_platform.evidence.scanner import scan

__all__ = [
    "GateRun",
    "compute_gate",
    "deliverable_counts",
    "forbidden_count",
    "format_gate",
    "subsystem_verdict",
    "write_gate",
]

GATE_GENERATOR = "agent_platform.evidence.gate"
_ONE_LINE = (
    150  # characters: objects shorter than this stay on one line (seed: gate JSON <= 150 lines)
)


@dataclass(frozen=True)
class GateRun:
    """Where the evidence is, which run it must come from, and when that run started."""

    evidence_root: Path
    project_root: Path
    run_id: str
    started_at: str


def compute_gate(run: GateRun, contract: Contract) -> dict[str, Any]:
    """The gate document for ``run`` (not yet written)."""
    lay = EvidenceLayout(run.evidence_root)
    manifests = {w.name: read_manifest(lay, w.name) for w in WORKLOADS}
    subsystems = {
        name: subsystem_verdict(lay, contract, run.run_id, name, manifests) for name in SUBSYSTEMS
    }
    commit = git_commit(run.project_root)
    passed = sum(len(s["thresholds"]) - len(s["failed"]) for s in subsystems.values())
    failed = sum(len(s["failed"]) for s in subsystems.values())
    all_pass = all(s["status"] == "PASS" for s in subsystems.values())
    delivered, lines = deliverable_counts(contract, run.project_root, run.evidence_root)
    return {
        "gate": contract.gate,
        "phase": contract.phase,
        "contract_id": contract.contract_id,
        "status": "PASS" if all_pass and commit != UNKNOWN_COMMIT else "FAIL",
        "timestamp": utc_now_iso(),
        "generator": GATE_GENERATOR,
        "run": {"run_id": run.run_id, "started_at": run.started_at, "finished_at": utc_now_iso()},
        "commit": commit,
        "worktree_dirty": git_dirty(run.project_root),
        "backends": _backends(manifests, run.run_id),
        "provider_traffic": _provider_traffic(manifests, run.run_id),
        "machine": machine_info(),
        "workload_sizes": {
            n: m.workload_sizes
            for n, m in manifests.items()
            if m is not None and m.run_id == run.run_id
        },
        "subsystems": subsystems,
        "evidence_files": _hashes(lay, manifests, run.run_id),
        "deliverables_expected": sum(1 for d in contract.deliverables if d.path != GATE_PATH),
        "deliverables_count": delivered,
        "lines_delivered": lines,
        "quality_gates_passed": passed,
        "quality_gates_failed": failed,
        "forbidden_patterns_found": forbidden_count(contract, run.project_root),
    }


def _fresh(manifest: WorkloadManifest | None, run_id: str) -> bool:
    return manifest is not None and manifest.run_id == run_id


def subsystem_verdict(
    lay: EvidenceLayout,
    contract: Contract,
    run_id: str,
    name: str,
    manifests: dict[str, WorkloadManifest | None],
) -> dict[str, Any]:
    """Figures, judged thresholds, failures and status of one subsystem for ``run_id``.

    ``judged`` holds, per threshold, what :func:`agent_platform.evidence.judge.judge` says:
    value, kind, statistic, n (and k and the Wilson interval for a rate), verdict, the backend
    of the workload that measured it and, where it applies, the substitute it was met on.
    """
    figures, made_by, notes = _collect(lay, run_id, name, manifests)
    evidence = [rel for w in WORKLOADS if w.subsystem == name for rel in w.files]
    thresholds = contract.thresholds_for(name)
    judged = {t.figure: judge(t, figures, made_by.get(t.figure, {})) for t in thresholds}
    for item in thresholds:
        figures.setdefault(item.figure, NOT_MEASURED)
    failed = [f for f, entry in judged.items() if entry["verdict"] != "PASS"]
    unmeasured = any(entry["verdict"] == NOT_MEASURED for entry in judged.values())
    status = "NOT_MEASURED" if unmeasured else ("FAIL" if failed or notes else "PASS")
    return {
        "status": status,
        "figures": dict(sorted(figures.items())),
        "thresholds": {t.figure: f"{t.op} {t.value:g}" for t in thresholds},
        "judged": judged,
        "failed": failed,
        "notes": notes,
        "evidence": evidence,
    }


def _collect(
    lay: EvidenceLayout, run_id: str, name: str, manifests: dict[str, WorkloadManifest | None]
) -> tuple[Figures, dict[str, dict[str, Any]], list[str]]:
    """The subsystem's figures, the backends of the workload that made each, and notes on
    workloads that did not measure in this run (or whose files do not recompute)."""
    figures: Figures = {}
    made_by: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for work in (w for w in WORKLOADS if w.subsystem == name):
        manifest = manifests[work.name]
        reason = staleness(lay, manifest, run_id)
        if reason is not None or manifest is None:
            notes.append(f"{work.name}: {reason}")
            continue
        try:
            produced = workload_figures(lay, work.name)
            notes.extend(f"{work.name}: {p}" for p in workload_consistency(lay, work.name))
        except EvidenceError as exc:
            notes.append(f"{work.name}: {exc}")
            continue
        figures.update(produced)
        made_by.update(dict.fromkeys(produced, manifest.backends))
    return figures, made_by, notes


def _provider_traffic(manifests: dict[str, WorkloadManifest | None], run_id: str) -> dict[str, str]:
    """Per subsystem that calls LLM providers: ``simulated`` when any of its workloads of
    ``run_id`` ran on the provider simulator, else ``real``. Subsystems that call no provider
    are absent."""
    out: dict[str, str] = {}
    for work in WORKLOADS:
        manifest = manifests.get(work.name)
        if not _fresh(manifest, run_id) or manifest is None:
            continue
        flag = manifest.backends.get("providers_simulated")
        if flag is True:
            out[work.subsystem] = "simulated"
        elif flag is False:
            out.setdefault(work.subsystem, "real")
    return {name: out[name] for name in SUBSYSTEMS if name in out}


def _backends(manifests: dict[str, WorkloadManifest | None], run_id: str) -> dict[str, Any]:
    merged: dict[str, set[str]] = {}
    for manifest in manifests.values():
        if not _fresh(manifest, run_id) or manifest is None:
            continue
        for key, value in manifest.backends.items():
            merged.setdefault(key, set()).add(json.dumps(value))
    out: dict[str, Any] = {}
    for key, values in sorted(merged.items()):
        decoded = [json.loads(v) for v in sorted(values)]
        out[key] = decoded[0] if len(decoded) == 1 else decoded
    return out


def _hashes(
    lay: EvidenceLayout, manifests: dict[str, WorkloadManifest | None], run_id: str
) -> dict[str, str]:
    out: dict[str, str] = {}
    for manifest in manifests.values():
        if manifest is None or manifest.run_id != run_id:
            continue
        for rel in manifest.files:
            if lay.path(rel).exists():
                out[rel] = sha256_file(lay.path(rel))
    return dict(sorted(out.items()))


def _deliverable_path(contract_path: str, generated: bool, project: Path, evidence: Path) -> Path:
    return (evidence if generated else project) / contract_path


def deliverable_counts(
    contract: Contract, project_root: Path, evidence_root: Path
) -> tuple[int, int]:
    """(deliverables present, lines over them and their implementation modules).

    Every deliverable is counted only when its file exists. The gate document itself is left
    out of both this count and ``deliverables_expected``: it is the document being computed, so
    it cannot be checked for here (the validator checks it as a deliverable on its own). A file
    shared by several deliverables' components is counted once.
    """
    present = 0
    counted: set[Path] = set()
    for item in contract.deliverables:
        if item.path == GATE_PATH:
            continue
        path = _deliverable_path(item.path, item.generated, project_root, evidence_root)
        if not path.is_file():
            continue
        present += 1
        counted.add(path)
        counted.update(
            project_root / rel for rel in item.implementation if (project_root / rel).is_file()
        )
    return present, sum(count_lines(p) for p in sorted(counted))


def forbidden_count(contract: Contract, project_root: Path) -> int:
    """Forbidden patterns in the scanned sources and the non-generated deliverables."""
    extra = [d.path for d in contract.deliverables if not d.generated]
    return len(scan(project_root, contract.forbidden_patterns, extra))


def format_gate(document: dict[str, Any]) -> str:
    """Pretty JSON: objects past the third level, and short ones, stay on one line."""
    return _dump(document, 0) + "\n"


def _dump(value: Any, depth: int) -> str:
    # Short objects (a workload's sizes, the machine) stay on one line: the page stays short.
    if isinstance(value, dict) and value and depth < 3 and len(json.dumps(value)) > _ONE_LINE:
        pad = "  " * (depth + 1)
        items = [f"{pad}{json.dumps(k)}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    return json.dumps(value, ensure_ascii=False)


def write_gate(evidence_root: Path, document: dict[str, Any]) -> Path:
    """Write the gate JSON atomically under ``evidence_root``; returns its path."""
    path = evidence_root / GATE_PATH
    write_text_atomic(path, format_gate(document))
    return path
