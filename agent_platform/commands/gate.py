"""``agent-platform gate``: run the whole ``g1_gate_evidence`` job, then the contract validator.

This is the README's first command. It checks the configured backends first (one line and
exit 2 for a bad URL or password), then starts the Dagster launcher of the checkout as a child
process (:mod:`agent_platform.commands.gate_launch`; the library imports nothing from
``jobs/``) and shows its progress (:mod:`agent_platform.commands.gate_progress`).

The run writes into a staging folder (:mod:`agent_platform.evidence.staging`); only a run
whose every step ran is swapped into the evidence root, tree by tree. A failed or interrupted
run leaves the previous evidence as it was and says where its partial files are; for a failed
run the gate is still computed in the staging folder, so the verdict names the failing
figures. Ctrl-C cancels the Dagster run (CANCELED in the instance), prints one
"interrupted" line and exits 130.

After a completed run it prints where every evidence file went and the gate verdict, and runs
the validator. The performance table is written beside the gate JSON (generated, untracked);
the architecture document's copy (a tracked file) is rewritten only with ``--update-doc``.
The evidence root is ``$AGENT_PLATFORM_EVIDENCE_ROOT`` or the checkout; the Dagster instance
lives under ``--dagster-home``, ``$DAGSTER_HOME`` or ``.data/dagster_home`` (git-ignored), so
``dagster dev`` pointed at the same home shows the run history.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent_platform.commands._output import Output
from agent_platform.commands.gate_launch import LaunchOutcome, LaunchRequest, launch
from agent_platform.commands.gate_progress import GateProgress
from agent_platform.config import Settings, project_root
from agent_platform.errors import EvidenceError, InvalidInputError
from agent_platform.evidence.contract import format_summary, validate_contract, write_report
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.layout import GATE_PATH
from agent_platform.evidence.perf_table import DOC_PATH, TABLE_PATH, render_table, rewrite_block
from agent_platform.evidence.staging import promote, prune, staging_folder
from agent_platform.preflight import check_backends

__all__ = ["register", "run"]

CONTRACT = "contracts/phase_1_core_architecture.contract.json"
DOC = DOC_PATH
EVIDENCE_ROOT_ENV = "AGENT_PLATFORM_EVIDENCE_ROOT"
LOG_NAME = "launcher.log"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate", help="run every evidence workload, compute the G1 gate, validate the contract"
    )
    parser.add_argument(
        "--scale",
        choices=("full", "reduced"),
        default="full",
        help="workload sizes (recorded in the gate JSON); default full",
    )
    parser.add_argument(
        "--dagster-home",
        type=Path,
        default=None,
        help="Dagster instance folder (default $DAGSTER_HOME or .data/dagster_home)",
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the contract validator")
    doc = parser.add_mutually_exclusive_group()
    doc.add_argument(
        "--update-doc",
        action="store_true",
        help=f"also rewrite the performance table of {DOC} from this run's gate",
    )
    doc.add_argument(
        "--no-doc",
        action="store_true",
        help=f"leave {DOC} untouched (the default; kept for existing scripts)",
    )
    parser.set_defaults(handler=run)


def _dagster_home(option: Path | None) -> Path:
    folder = option or Path(
        os.environ.get("DAGSTER_HOME") or project_root() / ".data" / "dagster_home"
    )
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"--dagster-home: {folder} is not a folder")
    return folder.resolve()


def _evidence_root() -> Path:
    configured = os.environ.get(EVIDENCE_ROOT_ENV)
    return Path(configured).resolve() if configured else project_root()


def _launch(args: argparse.Namespace, request: LaunchRequest) -> LaunchOutcome:
    output: Output = args.output
    output.say(
        f"g1_gate_evidence: run {request.run_id} (scale {request.scale}, "
        f"Dagster home {request.dagster_home})"
    )
    progress = GateProgress(output.human_stream)
    try:
        return launch(request, progress)
    finally:
        progress.close()


def run(args: argparse.Namespace) -> int:
    """Preflight, run the job into staging, promote a complete run, print, validate."""
    output: Output = args.output
    check_backends(Settings.from_env())
    home = _dagster_home(args.dagster_home)
    root = _evidence_root()
    run_id = str(uuid.uuid4())
    prune(root)
    staging = staging_folder(root, run_id)
    staging.mkdir(parents=True)
    request = LaunchRequest(
        run_id=run_id,
        scale=args.scale,
        evidence_root=staging,
        dagster_home=home,
        log_path=staging / LOG_NAME,
    )
    started = time.perf_counter()
    outcome = _launch(args, request)
    elapsed = time.perf_counter() - started
    if outcome.interrupted:
        return _interrupted(output, request, root)
    output.say(f"job finished in {elapsed:.1f} s: {outcome.status}")
    if not outcome.succeeded:
        return _failed(args, request, root, outcome, elapsed)
    with _interrupts_deferred():
        trees = promote(staging, root)
    output.say(f"evidence of run {run_id} swapped into {root}: {', '.join(trees)}")
    return _finish(args, root, run_id, elapsed)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C while the trees are swapped (a set is never left half old, half new);
    an interrupt that came meanwhile is raised once the swap is done."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _interrupted(output: Output, request: LaunchRequest, root: Path) -> int:
    text = (
        f"interrupted: run {request.run_id} canceled in the Dagster instance; the previous "
        f"evidence in {root} is untouched; this run's partial files: {request.evidence_root}"
    )
    print(f"agent-platform: {text}", file=sys.stderr)
    output.error("interrupted", text, 130)
    return 130


def _failed(
    args: argparse.Namespace,
    request: LaunchRequest,
    root: Path,
    outcome: LaunchOutcome,
    elapsed: float,
) -> int:
    """A run that did not complete: its gate is computed in staging, nothing is promoted."""
    output: Output = args.output
    staging = request.evidence_root
    if outcome.status == "UNKNOWN":
        _launcher_tail(output, request.log_path, outcome.exit_code)
    gate = _staged_gate(staging, request.run_id)
    _print_gate(output, staging, gate)
    output.say(
        f"this run did not complete ({outcome.status}): the previous evidence in {root} is "
        f"untouched; this run's partial files: {staging} (launcher log: {request.log_path})"
    )
    summary = _summary(request.run_id, gate, elapsed, promoted=False, staging=staging)
    output.result({**summary, "failed_steps": outcome.failed_steps})
    return 1


def _launcher_tail(output: Output, log: Path, exit_code: int | None, lines: int = 8) -> None:
    """The launcher ended without reporting a run (it could not start the job): its last
    lines say why."""
    output.say(f"the Dagster launcher ended without a run (exit {exit_code}); {log} ends with:")
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    for line in text.strip().splitlines()[-lines:]:
        output.say(f"  | {line}")


def _finish(args: argparse.Namespace, root: Path, run_id: str, elapsed: float) -> int:
    output: Output = args.output
    gate_path = root / GATE_PATH
    if not gate_path.is_file():
        raise EvidenceError(f"{gate_path}: the completed run wrote no gate JSON")
    gate = json.loads(gate_path.read_text(encoding="utf-8"))
    _print_gate(output, root, gate)
    contract_path = project_root() / CONTRACT
    contract = load_contract(contract_path)
    output.say(f"performance table: {root / TABLE_PATH}")
    if args.update_doc:
        rewrite_block(project_root() / DOC, render_table(gate, contract))
        output.say(f"performance table of run {run_id} written into {DOC}")
    summary = _summary(run_id, gate, elapsed, promoted=True, staging=None)
    if args.no_validate or root != project_root():
        if not args.no_validate:
            output.say(f"validator skipped: it reads the checkout; the evidence went to {root}")
        output.result(summary)
        return 0 if gate.get("status") == "PASS" else 1
    report = validate_contract(contract_path, root)
    target = write_report(report, root / contract.gate_evidence.validation_report)
    output.say(format_summary(report))
    output.say(f"validation report: {target}")
    output.result({**summary, "validation": {"passed": report.passed, "report": str(target)}})
    return 0 if report.passed else 1


def _summary(
    run_id: str, gate: dict[str, Any], elapsed: float, *, promoted: bool, staging: Path | None
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "status": gate.get("status"),
        "subsystems": {n: s.get("status") for n, s in gate.get("subsystems", {}).items()},
        "elapsed_s": round(elapsed, 1),
        "promoted": promoted,
        "partial_files": str(staging) if staging is not None else None,
    }


def _staged_gate(staging: Path, run_id: str) -> dict[str, Any]:
    """The gate document of a run that did not complete, from the files it left in staging
    (the gate asset did not run, or ran on partial evidence)."""
    from agent_platform.evidence.gate import GateRun, compute_gate, write_gate

    gate_path = staging / GATE_PATH
    if gate_path.is_file():
        document: dict[str, Any] = json.loads(gate_path.read_text(encoding="utf-8"))
        return document
    run = GateRun(
        evidence_root=staging, project_root=project_root(), run_id=run_id, started_at=utc_now_iso()
    )
    document = compute_gate(run, load_contract(project_root() / CONTRACT))
    write_gate(staging, document)
    return document


def _print_gate(output: Output, root: Path, gate: dict[str, Any]) -> None:
    if not isinstance(gate.get("subsystems"), dict):
        raise EvidenceError(f"{GATE_PATH}: no subsystems in the gate JSON")
    output.say("evidence files:")
    for rel, digest in gate.get("evidence_files", {}).items():
        output.say(f"  {root / rel}  sha256 {digest[:12]}")
    output.say(f"gate: {root / GATE_PATH}")
    for name, sub in gate["subsystems"].items():
        failed = f" (failed: {', '.join(sub['failed'])})" if sub.get("failed") else ""
        output.say(f"  {name:<14} {sub['status']}{failed}")
    output.say(f"G1 verdict: {gate['status']} (commit {gate.get('commit')})")
