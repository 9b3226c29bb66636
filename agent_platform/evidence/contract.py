"""Contract validation: every deliverable, pattern, cross-file fact and gate figure, checked.

:func:`validate_contract` is what ``scripts/validate_contract.py`` runs. It accepts the phase
only when every deliverable exists within its size range and holds its required patterns, the
scanner finds no forbidden pattern, every cross-file check holds, the gate JSON says PASS for
the checkout's own commit, every hash recorded in the gate matches its file, and every gate
figure recomputes from the files. Each check is recorded with its result in the validation
report (``evidence/validation/phase1_contract_validation.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_platform.errors import AgentPlatformError, EvidenceError
from agent_platform.evidence.contract_model import Contract, Deliverable, load_contract
from agent_platform.evidence.crossfile import run_cross_check
from agent_platform.evidence.files import (
    UNKNOWN_COMMIT,
    count_lines,
    git_commit,
    sha256_file,
    utc_now_iso,
    write_text_atomic,
)
from agent_platform.evidence.gate import deliverable_counts, subsystem_verdict
from agent_platform.evidence.layout import SUBSYSTEMS, WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import read_manifest
from agent_platform.evidence.scanner import scan

__all__ = ["CheckResult", "ValidationReport", "format_summary", "validate_contract", "write_report"]


@dataclass(frozen=True)
class CheckResult:
    """One named check, its category, its verdict and what it found."""

    id: str
    category: str
    passed: bool
    detail: str


@dataclass
class ValidationReport:
    contract_id: str
    root: str
    checked_at: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(self, check_id: str, category: str, passed: bool, detail: str) -> None:
        self.checks.append(CheckResult(check_id, category, passed, detail))

    def to_dict(self) -> dict[str, Any]:
        failed = [c for c in self.checks if not c.passed]
        return {
            "contract_id": self.contract_id,
            "root": self.root,
            "checked_at": self.checked_at,
            "result": "ACCEPTED" if self.passed else "REJECTED",
            "checks_total": len(self.checks),
            "checks_failed": len(failed),
            "checks": [asdict(c) for c in self.checks],
        }


def validate_contract(contract_path: Path, root: Path | None = None) -> ValidationReport:
    """Run every check of the contract against the tree at ``root`` (default: the contract's)."""
    contract = load_contract(contract_path)
    base = (root or contract_path.resolve().parent.parent).resolve()
    report = ValidationReport(contract.contract_id, str(base), utc_now_iso())
    for item in contract.deliverables:
        _check_deliverable(report, base, item)
    findings = scan(
        base,
        contract.forbidden_patterns,
        [d.path for d in contract.deliverables if not d.generated],
    )
    shown = "; ".join(f"{f.path}:{f.line} {f.kind} {f.detail}" for f in findings[:20])
    report.add(
        "forbidden_patterns",
        "patterns",
        not findings,
        f"{len(findings)} found" + (f": {shown}" if shown else ""),
    )
    for check in contract.cross_file_checks:
        passed, detail = run_cross_check(base, check)
        report.add(f"cross_file:{check.id}", "cross_file", passed, detail)
    _check_gate(report, base, contract, len(findings))
    return report


def _check_deliverable(report: ValidationReport, root: Path, item: Deliverable) -> None:
    path = root / item.path
    if not path.is_file():
        report.add(f"deliverable:{item.path}", "deliverable", False, "missing")
        return
    try:
        size = _counted_size(root, item)
    except AgentPlatformError as exc:
        report.add(f"deliverable:{item.path}", "deliverable", False, str(exc))
        return
    bound, unit = (item.rows, "rows") if item.rows is not None else (item.lines, "lines")
    ok = bound is None or (size >= bound.min and (bound.max is None or size <= bound.max))
    wanted = (
        ""
        if bound is None
        else f" (allowed {bound.min}..{bound.max if bound.max is not None else ''})"
    )
    over = f" over {' + '.join(item.counted_paths)}" if item.implementation else ""
    report.add(f"deliverable:{item.path}", "deliverable", ok, f"{size} {unit}{over}{wanted}")
    if item.deviation:
        report.add(f"deviation:{item.path}", "deviation", True, item.deviation)
    if item.required_patterns or item.required_sections:
        _check_patterns(report, path, item)


def _counted_size(root: Path, item: Deliverable) -> int:
    """Rows of a generated table (header excluded), or lines over the deliverable's files."""
    if item.rows is not None:
        return count_lines(root / item.path) - 1
    missing = [rel for rel in item.counted_paths if not (root / rel).is_file()]
    if missing:
        raise EvidenceError(f"implementation files missing: {missing}")
    return sum(count_lines(root / rel) for rel in item.counted_paths)


def _check_patterns(report: ValidationReport, path: Path, item: Deliverable) -> None:
    text = path.read_text(encoding="utf-8")
    missing = [p for p in item.required_patterns if not re.search(p, text, re.MULTILINE)]
    headings = [ln.lstrip("#").strip().lower() for ln in text.splitlines() if ln.startswith("#")]
    missing += [
        f"section '{s}'"
        for s in item.required_sections
        if not any(s.lower() in h for h in headings)
    ]
    report.add(
        f"patterns:{item.path}",
        "patterns",
        not missing,
        f"missing: {missing}" if missing else "all present",
    )


def _load_gate(report: ValidationReport, root: Path, contract: Contract) -> dict[str, Any] | None:
    path = root / contract.gate_evidence.path
    try:
        gate = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.add("gate:readable", "gate", False, f"{contract.gate_evidence.path}: {exc}")
        return None
    if not isinstance(gate, dict):
        report.add("gate:readable", "gate", False, "the gate JSON is not an object")
        return None
    return gate


def _check_gate(report: ValidationReport, root: Path, contract: Contract, findings: int) -> None:
    gate = _load_gate(report, root, contract)
    if gate is None:
        return
    status = gate.get("status")
    report.add(
        "gate:status",
        "gate",
        status == contract.gate_evidence.required_status,
        f"status {status!r}",
    )
    head, recorded = git_commit(root), gate.get("commit")
    ok = recorded not in (None, UNKNOWN_COMMIT) and recorded == head
    report.add("gate:commit", "gate", ok, f"gate measured {recorded}, checkout is at {head}")
    _check_hashes(report, root, gate)
    _check_figures(report, root, contract, gate)
    _check_counts(report, root, contract, gate, findings)


def _check_hashes(report: ValidationReport, root: Path, gate: dict[str, Any]) -> None:
    recorded = gate.get("evidence_files") or {}
    bad = []
    for rel, digest in sorted(recorded.items()):
        path = root / rel
        if not path.is_file():
            bad.append(f"{rel} missing")
        elif sha256_file(path) != digest:
            bad.append(f"{rel} does not match its recorded SHA-256")
    ok = bool(recorded) and not bad
    report.add(
        "gate:hashes", "gate", ok, "; ".join(bad) or f"{len(recorded)} files match their hashes"
    )


def _check_figures(
    report: ValidationReport, root: Path, contract: Contract, gate: dict[str, Any]
) -> None:
    lay = EvidenceLayout(root)
    run_id = str((gate.get("run") or {}).get("run_id", ""))
    manifests = {w.name: read_manifest(lay, w.name) for w in WORKLOADS}
    stated = gate.get("subsystems") or {}
    for name in SUBSYSTEMS:
        fresh = subsystem_verdict(lay, contract, run_id, name, manifests)
        claimed = stated.get(name) or {}
        diffs = [
            f"{key}: gate says {claimed.get('figures', {}).get(key)!r}, files give {value!r}"
            for key, value in fresh["figures"].items()
            if claimed.get("figures", {}).get(key) != value
        ]
        if claimed.get("status") != fresh["status"]:
            diffs.append(
                f"status: gate says {claimed.get('status')!r}, recomputed {fresh['status']!r}"
            )
        detail = (
            "; ".join(diffs)
            or f"{len(fresh['figures'])} figures recompute, status {fresh['status']}"
        )
        report.add(f"gate:figures:{name}", "gate", not diffs and fresh["status"] == "PASS", detail)


def _check_counts(
    report: ValidationReport, root: Path, contract: Contract, gate: dict[str, Any], findings: int
) -> None:
    present, lines = deliverable_counts(contract, root, root)
    expected = {
        "deliverables_count": present,
        "lines_delivered": lines,
        "forbidden_patterns_found": findings,
    }
    diffs = [
        f"{k}: gate says {gate.get(k)!r}, recounted {v}"
        for k, v in expected.items()
        if gate.get(k) != v
    ]
    report.add("gate:counts", "gate", not diffs, "; ".join(diffs) or f"recounted {expected}")


def write_report(report: ValidationReport, path: Path) -> Path:
    """Write the validation report JSON atomically."""
    write_text_atomic(path, json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def format_summary(report: ValidationReport) -> str:
    """A readable summary: failures first, then the count of passing checks by category."""
    lines = [f"contract {report.contract_id} at {report.root}"]
    for check in report.checks:
        if not check.passed:
            lines.append(f"  FAIL  {check.id}: {check.detail}")
    categories: dict[str, list[int]] = {}
    for check in report.checks:
        tally = categories.setdefault(check.category, [0, 0])
        tally[0 if check.passed else 1] += 1
    for category, (ok, bad) in categories.items():
        lines.append(f"  {category:<12} {ok} passed, {bad} failed")
    verdict = "ACCEPTED" if report.passed else "REJECTED"
    lines.append(
        f"{verdict}: {sum(c.passed for c in report.checks)}/{len(report.checks)} checks passed"
    )
    return "\n".join(lines)
