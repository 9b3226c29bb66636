"""``agent-platform gate``: run the whole ``g1_gate_evidence`` job, then the contract validator.

This is the README's first command. It runs the Dagster job in-process (Dagster is imported
here lazily, so the library itself stays Dagster-free), shows each step as it starts and ends,
prints where every evidence file went and the gate verdict, writes the performance table
rendered from the new gate JSON to ``evidence/performance_table.md`` (generated, untracked),
and finally runs the validator. The architecture document's copy of the table (a tracked file)
is rewritten only with ``--update-doc``: its provenance line names the run it shows. The Dagster
instance lives under ``$DAGSTER_HOME`` or, by default, ``.data/dagster_home`` (git-ignored), so
``dagster dev`` pointed at the same home shows the run history.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.errors import EvidenceError
from agent_platform.evidence.contract import format_summary, validate_contract, write_report
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.layout import GATE_PATH
from agent_platform.evidence.perf_table import (
    DOC_PATH,
    TABLE_PATH,
    render_table,
    rewrite_block,
    write_table,
)

__all__ = ["register", "run"]

CONTRACT = "contracts/phase_1_core_architecture.contract.json"
DOC = DOC_PATH


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


def _instance(home: Path | None) -> Any:
    import os

    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    folder = home or Path(
        os.environ.get("DAGSTER_HOME") or project_root() / ".data" / "dagster_home"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(folder.resolve()))), folder


def _execute(scale: str, instance: Any, run_id: str, outcome: dict[str, Any]) -> None:
    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from jobs.definitions import G1_JOB_NAME, defs

    job = defs.resolve_job_def(G1_JOB_NAME)
    config = {
        "resources": {"evidence": {"config": {"scale": scale}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    result = job.execute_in_process(
        run_config=config, instance=instance, run_id=run_id, raise_on_error=False
    )
    outcome["success"] = result.success


def _progress(instance: Any, run_id: str, worker: threading.Thread) -> None:
    from dagster import DagsterEventType
    from rich.console import Console

    console = Console()
    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    seen = 0
    started: dict[str, float] = {}
    with console.status("running g1_gate_evidence ...") as status:
        while worker.is_alive() or seen == 0:
            entries = instance.all_logs(run_id, of_type=kinds) if instance.has_run(run_id) else []
            for entry in entries[seen:]:
                _show(console, entry, started)
            seen = len(entries)
            status.update(f"running g1_gate_evidence ... {len(started)} steps started")
            if not worker.is_alive():
                break
            time.sleep(0.5)
        for entry in (instance.all_logs(run_id, of_type=kinds) if instance.has_run(run_id) else [])[
            seen:
        ]:
            _show(console, entry, started)


def _show(console: Any, entry: Any, started: dict[str, float]) -> None:
    event = entry.dagster_event
    step = entry.step_key or "?"
    kind = event.event_type_value
    if kind == "STEP_START":
        started[step] = entry.timestamp
        console.print(f"  [cyan]▶[/] {step}")
    elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
        took = entry.timestamp - started.get(step, entry.timestamp)
        mark = {
            "STEP_SUCCESS": "[green]✓[/]",
            "STEP_FAILURE": "[red]✗[/]",
            "STEP_SKIPPED": "[yellow]–[/]",
        }[kind]
        console.print(f"  {mark} {step} ({took:.1f} s)")
    elif kind == "ASSET_CHECK_EVALUATION":
        data = event.event_specific_data
        verdict = "[green]pass[/]" if data.passed else "[red]FAIL[/]"
        console.print(f"      check {data.asset_check_key.name}: {verdict}")


def run(args: argparse.Namespace) -> int:
    """Run the job, print files and verdict, write the table (and the doc's on request), validate."""
    root = project_root()
    gate_path = root / GATE_PATH
    gate_path.unlink(missing_ok=True)  # a gate from an earlier run must never look like this one's
    (root / TABLE_PATH).unlink(missing_ok=True)
    instance, home = _instance(args.dagster_home)
    run_id = str(uuid.uuid4())
    outcome: dict[str, Any] = {}
    print(f"g1_gate_evidence: run {run_id} (scale {args.scale}, Dagster home {home})")
    started = time.perf_counter()
    worker = threading.Thread(
        target=_execute, args=(args.scale, instance, run_id, outcome), daemon=True
    )
    worker.start()
    _progress(instance, run_id, worker)
    worker.join()
    print(
        f"job finished in {time.perf_counter() - started:.1f} s: {'success' if outcome.get('success') else 'FAILED'}"
    )
    if not gate_path.exists():
        # A blocking check failed, so Dagster skipped the gate asset: compute the same document
        # from the same files and manifests, so the verdict says which figures failed.
        print("the gate asset did not run (a blocking check failed or a step errored);")
        print("computing the gate from this run's files instead")
        _write_gate_after_failure(root, instance, run_id)
    gate = json.loads(gate_path.read_text(encoding="utf-8"))
    _print_gate(root, gate)
    contract_path = root / CONTRACT
    contract = load_contract(contract_path)
    print(f"performance table: {root / TABLE_PATH}")
    if args.update_doc:
        rewrite_block(root / DOC, render_table(gate, contract))
        print(f"performance table of run {run_id} written into {DOC}")
    if args.no_validate:
        return 0 if gate.get("status") == "PASS" else 1
    report = validate_contract(contract_path, root)
    target = write_report(report, root / contract.gate_evidence.validation_report)
    print(format_summary(report))
    print(f"validation report: {target}")
    return 0 if report.passed else 1


def _write_gate_after_failure(root: Path, instance: Any, run_id: str) -> None:
    from agent_platform.evidence.gate import GateRun, compute_gate, write_gate

    stats = instance.get_run_stats(run_id) if instance.has_run(run_id) else None
    moment = stats.start_time if stats is not None and stats.start_time is not None else None
    started = (
        datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if moment is not None
        else utc_now_iso()
    )
    run = GateRun(evidence_root=root, project_root=root, run_id=run_id, started_at=started)
    contract = load_contract(root / CONTRACT)
    document = compute_gate(run, contract)
    write_gate(root, document)
    write_table(root, document, contract)


def _print_gate(root: Path, gate: dict[str, Any]) -> None:
    if not isinstance(gate.get("subsystems"), dict):
        raise EvidenceError(f"{GATE_PATH}: no subsystems in the gate JSON")
    print("evidence files:")
    for rel, digest in gate.get("evidence_files", {}).items():
        print(f"  {root / rel}  sha256 {digest[:12]}")
    print(f"gate: {root / GATE_PATH}")
    for name, sub in gate["subsystems"].items():
        failed = f" (failed: {', '.join(sub['failed'])})" if sub.get("failed") else ""
        print(f"  {name:<14} {sub['status']}{failed}")
    print(f"G1 verdict: {gate['status']} (commit {gate.get('commit')})")
