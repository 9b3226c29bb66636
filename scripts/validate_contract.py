"""Validate the phase contract: ``python scripts/validate_contract.py CONTRACT.json``.

A thin command line over :mod:`agent_platform.evidence.contract`: it runs every check, writes
the validation report named by the contract, prints a readable summary and exits 0 only when
the contract is accepted (1 when rejected, 2 when the contract itself cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_platform.errors import AgentPlatformError, ConfigError
from agent_platform.evidence.contract import format_summary, validate_contract, write_report
from agent_platform.evidence.contract_model import load_contract


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validator; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        contract = load_contract(args.contract)
        report = validate_contract(args.contract, args.root)
    except ConfigError as exc:
        print(f"validate_contract: error: {exc}", file=sys.stderr)
        return 2
    except AgentPlatformError as exc:
        print(f"validate_contract: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    target = args.report or Path(report.root) / contract.gate_evidence.validation_report
    write_report(report, target)
    print(format_summary(report))
    print(f"validation report: {target}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
