"""Contract validation: every deliverable, pattern, cross-file fact and gate field, checked.

:func:`validate_contract` is what ``scripts/validate_contract.py`` runs. It accepts the phase
only when every deliverable exists within its size range (or the contract sets the range aside
with a deviation note, reported as N/A with the note) and holds its required patterns, the
scanner finds no forbidden pattern, every cross-file check holds, the gate JSON says PASS for
the checkout's own commit on a clean tree (generated paths aside), the gate lists every file of
every workload manifest of its run with the matching SHA-256, and the whole gate document
equals the one :func:`~agent_platform.evidence.gate.compute_gate` recomputes from the files
(only the gate's time stamps and machine description are exempt), thresholds included, and
each run holds to what it declares (:mod:`agent_platform.evidence.declared`: the sizes of the
scale it names, its declared sample counts, timestamps inside its window). The generated
performance table must equal the gate's; the document's copy is checked when it names the
gate's run. Each check is recorded in the validation report
(``evidence/validation/phase1_contract_validation.json``).

What this does not do is measure: files, manifests and gate rewritten together and
consistently pass every check here. ``scripts/validate_contract.py --reproduce`` re-runs the
workloads of the gate's commit and compares the figures
(:mod:`agent_platform.evidence.reproduce`).
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
from agent_platform.evidence.declared import check_declared
from agent_platform.evidence.files import (
    UNKNOWN_COMMIT,
    count_lines,
    dirty_paths,
    git_commit,
    sha256_file,
    utc_now_iso,
    write_text_atomic,
)
from agent_platform.evidence.gate import GateRun, compute_gate
from agent_platform.evidence.layout import WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import read_manifest
from agent_platform.evidence.perf_table import (
    DOC_PATH,
    TABLE_PATH,
    block_run_id,
    read_block,
    render_table,
)
from agent_platform.evidence.scanner import scan

__all__ = [
    "CheckResult",
    "ValidationReport",
    "check_tables",
    "differences",
    "format_summary",
    "validate_contract",
    "write_report",
]


PASS, FAIL, NOT_APPLICABLE, NOTE = "PASS", "FAIL", "N/A", "NOTE"


@dataclass(frozen=True)
class CheckResult:
    """One named check, its category, its outcome and what it found.

    ``outcome`` is PASS or FAIL, or N/A (a line range the contract's deviation note sets aside)
    or NOTE (information, such as the document's table showing an earlier run); only FAIL
    rejects the contract.
    """

    id: str
    category: str
    passed: bool
    detail: str
    outcome: str = PASS


@dataclass
class ValidationReport:
    contract_id: str
    root: str
    checked_at: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def add(
        self, check_id: str, category: str, passed: bool, detail: str, outcome: str | None = None
    ) -> None:
        verdict = outcome if outcome is not None else (PASS if passed else FAIL)
        self.checks.append(CheckResult(check_id, category, passed, detail, verdict))

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
    _check_gate(report, base, contract)
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
    wanted = (
        ""
        if bound is None
        else f" (seed range {bound.min}..{bound.max if bound.max is not None else ''})"
    )
    over = f" over {' + '.join(item.counted_paths)}" if item.implementation else ""
    if item.deviation:
        report.add(
            f"deliverable:{item.path}",
            "deliverable",
            True,
            f"range N/A (deviation: {item.deviation}); {size} {unit}{over}{wanted}",
            NOT_APPLICABLE,
        )
    else:
        ok = bound is None or (size >= bound.min and (bound.max is None or size <= bound.max))
        report.add(f"deliverable:{item.path}", "deliverable", ok, f"{size} {unit}{over}{wanted}")
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


def _check_gate(report: ValidationReport, root: Path, contract: Contract) -> None:
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
    _check_worktree(report, root)
    _check_hashes(report, root, gate)
    for finding in check_declared(root, gate, contract.gate_evidence.clock_slack_seconds):
        report.add(finding.id, "declared", finding.passed, finding.detail)
    run = _obj(gate.get("run"))
    fresh = compute_gate(
        GateRun(root, root, str(run.get("run_id", "")), str(run.get("started_at", ""))), contract
    )
    _check_recomputed(report, gate, fresh)
    check_tables(report, root, contract, gate)


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a malformed gate then diffs)."""
    return value if isinstance(value, dict) else {}


def _check_worktree(report: ValidationReport, root: Path) -> None:
    changed = dirty_paths(root)
    if changed is None:
        report.add("gate:worktree", "gate", False, f"{root} is not a git checkout")
        return
    shown = ", ".join(changed[:10]) + (
        f" and {len(changed) - 10} more" if len(changed) > 10 else ""
    )
    report.add(
        "gate:worktree",
        "gate",
        not changed,
        f"uncommitted or untracked files: {shown}"
        if changed
        else "the checkout matches its commit (generated paths aside)",
    )


def _check_hashes(report: ValidationReport, root: Path, gate: dict[str, Any]) -> None:
    """Every file of every workload manifest of the gate's run is listed, hash for hash."""
    lay = EvidenceLayout(root)
    run_id = str((gate.get("run") or {}).get("run_id", ""))
    recorded = _obj(gate.get("evidence_files"))
    bad: list[str] = []
    expected: dict[str, str] = {}
    for work in WORKLOADS:
        manifest = read_manifest(lay, work.name)
        if manifest is None or manifest.run_id != run_id:
            bad.append(f"{work.name}: no manifest of run {run_id}")
            continue
        expected.update(manifest.files)
    for rel, digest in sorted(expected.items()):
        path = root / rel
        if rel not in recorded:
            bad.append(f"{rel} has no hash entry in the gate")
        elif recorded[rel] != digest:
            bad.append(f"{rel}: the gate's SHA-256 differs from its manifest's")
        elif not path.is_file():
            bad.append(f"{rel} missing")
        elif sha256_file(path) != digest:
            bad.append(f"{rel} does not match its recorded SHA-256")
    bad.extend(
        f"{rel} is in the gate but in no manifest" for rel in sorted(set(recorded) - set(expected))
    )
    if any("does not match its recorded SHA-256" in item or "missing" in item for item in bad):
        bad.append(
            "an evidence file changed after the gate was written: re-run `make gate` "
            "(evidence files are written by the evidence job only)"
        )
    report.add(
        "gate:hashes",
        "gate",
        bool(expected) and not bad,
        "; ".join(bad) or f"{len(expected)} manifest files listed and matching their hashes",
    )


def _check_recomputed(
    report: ValidationReport, gate: dict[str, Any], fresh: dict[str, Any]
) -> None:
    """The whole gate document against the one recomputed from the files, key by key."""
    stated = _obj(gate.get("subsystems"))
    for name, sub in fresh["subsystems"].items():
        claimed = stated.get(name)
        report.add(
            f"gate:thresholds:{name}",
            "gate",
            isinstance(claimed, dict) and claimed.get("thresholds") == sub["thresholds"],
            f"gate says {claimed.get('thresholds') if isinstance(claimed, dict) else None!r}, "
            f"the contract says {sub['thresholds']!r}",
        )
        diffs = differences(claimed, sub, f"subsystems.{name}")
        detail = (
            "; ".join(diffs) or f"{len(sub['figures'])} figures recompute, status {sub['status']}"
        )
        report.add(f"gate:figures:{name}", "gate", not diffs and sub["status"] == "PASS", detail)
    extra = sorted(set(stated) - set(fresh["subsystems"]))
    counts = [k for k in _COUNT_KEYS if gate.get(k) != fresh[k]]
    report.add(
        "gate:counts",
        "gate",
        not counts,
        "; ".join(f"{k}: gate says {gate.get(k)!r}, recounted {fresh[k]!r}" for k in counts)
        or f"recounted { ({k: fresh[k] for k in _COUNT_KEYS}) }",
    )
    rest = {k: v for k, v in gate.items() if k not in _COUNT_KEYS and k != "subsystems"}
    fresh_rest = {k: v for k, v in fresh.items() if k not in _COUNT_KEYS and k != "subsystems"}
    diffs = differences(rest, fresh_rest, "") + [f"subsystems.{n}: not a subsystem" for n in extra]
    report.add(
        "gate:document",
        "gate",
        not diffs,
        "; ".join(diffs[:20]) or "every other field recomputes (times and machine aside)",
    )


_COUNT_KEYS = (
    "deliverables_expected",
    "deliverables_count",
    "lines_delivered",
    "quality_gates_passed",
    "quality_gates_failed",
    "forbidden_patterns_found",
)
_VOLATILE = frozenset({"timestamp", "run.finished_at", "machine"})


def differences(recorded: Any, expected: Any, where: str) -> list[str]:
    """Where ``recorded`` differs from ``expected`` (missing, extra or changed keys, recursively).

    Only the gate's own time stamps and the machine description are exempt: they describe when
    and where the gate was written, which a recomputation cannot reproduce.
    """
    if where.lstrip(".") in _VOLATILE:
        return []
    if isinstance(recorded, dict) and isinstance(expected, dict):
        out: list[str] = []
        for key in sorted(set(recorded) | set(expected), key=str):
            at = f"{where}.{key}" if where else str(key)
            if at in _VOLATILE:
                continue
            if key not in expected:
                out.append(f"{at}: not recomputed from the files (gate says {recorded[key]!r})")
            elif key not in recorded:
                out.append(f"{at}: missing from the gate (recomputed {expected[key]!r})")
            else:
                out.extend(differences(recorded[key], expected[key], at))
        return out
    if recorded != expected or type(recorded) is not type(expected):
        return [f"{where}: gate says {recorded!r}, recomputed {expected!r}"]
    return []


def check_tables(
    report: ValidationReport, root: Path, contract: Contract, gate: dict[str, Any]
) -> None:
    """The generated table file equals the gate's table; the document's block, when it names
    this gate's run, holds that same table (else a note names the run it shows)."""
    expected = render_table(gate, contract)
    table = root / TABLE_PATH
    try:
        written = table.read_text(encoding="utf-8").strip("\n")
    except OSError as exc:
        report.add("gate:table", "gate", False, f"{TABLE_PATH}: {exc}")
    else:
        report.add(
            "gate:table",
            "gate",
            written == expected,
            f"{TABLE_PATH} "
            + ("matches the gate" if written == expected else "differs from the gate"),
        )
    doc = root / DOC_PATH
    if not doc.is_file():
        report.add("doc:table", "note", True, f"no {DOC_PATH} in this tree", NOTE)
        return
    try:
        block = read_block(doc)
    except AgentPlatformError as exc:
        report.add("doc:table", "documentation", False, str(exc))
        return
    shown, current = block_run_id(block), (gate.get("run") or {}).get("run_id")
    if shown != current:
        report.add("doc:table", "note", True, f"document table is from run {shown}", NOTE)
        return
    report.add(
        "doc:table",
        "documentation",
        block == expected,
        f"{DOC_PATH} shows run {shown}: "
        + ("rows equal the gate's table" if block == expected else "rows differ from the gate's"),
    )


def write_report(report: ValidationReport, path: Path) -> Path:
    """Write the validation report JSON atomically."""
    write_text_atomic(path, json.dumps(report.to_dict(), indent=2) + "\n")
    return path


def format_summary(report: ValidationReport) -> str:
    """A readable summary: failures, then set-aside ranges and notes in full, then tallies."""
    lines = [f"contract {report.contract_id} at {report.root}"]
    for check in report.checks:
        if check.outcome in (FAIL, NOT_APPLICABLE, NOTE):
            lines.append(f"  {check.outcome:<4}  {check.id}: {check.detail}")
    categories: dict[str, dict[str, int]] = {}
    for check in report.checks:
        tally = categories.setdefault(check.category, {})
        tally[check.outcome] = tally.get(check.outcome, 0) + 1
    for category, tally in categories.items():
        counted = ", ".join(f"{n} {o}" for o, n in sorted(tally.items()))
        lines.append(f"  {category:<13} {counted}")
    verdict = "ACCEPTED" if report.passed else "REJECTED"
    passes = sum(c.outcome == PASS for c in report.checks)
    lines.append(
        f"{verdict}: {passes}/{len(report.checks)} checks PASS, {sum(not c.passed for c in report.checks)} FAIL"
    )
    return "\n".join(lines)
