"""Validate the phase contract: ``python scripts/validate_contract.py CONTRACT.json``.

A thin command line over :mod:`agent_platform.evidence.contract`: it runs every check (files
against their hashes and manifests, figures recomputed from the raw files, declared sizes,
sample counts and timestamps), writes the validation report named by the contract, prints a
readable summary and exits 0 only when the contract is accepted (1 when rejected, 2 when the
contract or an option cannot be read).

``--reproduce`` also re-measures: it re-runs the evidence job of the gate's commit in a scratch
worktree and compares every figure (:mod:`agent_platform.evidence.reproduce`); ``--only
SUBSYSTEM`` re-runs one subsystem's workloads instead of the whole job.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_platform.errors import AgentPlatformError, ConfigError
from agent_platform.evidence.contract import format_summary, validate_contract, write_report
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.layout import SUBSYSTEMS
from agent_platform.evidence.reproduce import add_to_report, reproduce


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="validate_contract.py", description="Validate a phase contract against the tree."
    )
    parser.add_argument("contract", type=Path, help="the contract JSON file")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the project tree to validate (default: the folder above contracts/)",
    )
    parser.add_argument(
        "--report", type=Path, default=None, help="where to write the validation JSON"
    )
    parser.add_argument(
        "--reproduce",
        action="store_true",
        help="re-run the evidence of the gate's commit in a scratch worktree and compare figures",
    )
    parser.add_argument(
        "--only",
        metavar="SUBSYSTEM",
        default=None,
        help="with --reproduce: re-run only this subsystem's workloads",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validator; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.only is not None and not args.reproduce:
        print("validate_contract: error: --only needs --reproduce", file=sys.stderr)
        return 2
    if args.only is not None and args.only not in SUBSYSTEMS:
        print(
            f"validate_contract: error: --only {args.only!r}: allowed: {', '.join(SUBSYSTEMS)}",
            file=sys.stderr,
        )
        return 2
    try:
        contract = load_contract(args.contract)
        report = validate_contract(args.contract, args.root)
        if args.reproduce:
            root = Path(report.root)
            gate = json.loads((root / contract.gate_evidence.path).read_text(encoding="utf-8"))
            add_to_report(report, reproduce(root, contract, gate, args.only))
    except ConfigError as exc:
        print(f"validate_contract: error: {exc}", file=sys.stderr)
        return 2
    except (AgentPlatformError, OSError, ValueError) as exc:
        print(f"validate_contract: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    target = args.report or Path(report.root) / contract.gate_evidence.validation_report
    write_report(report, target)
    print(format_summary(report))
    print(f"validation report: {target}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
