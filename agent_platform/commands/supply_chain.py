"""``agent-platform packages verify`` and ``agent-platform residency check``.

The same handlers back ``scripts/verify_packages.py`` and ``scripts/check_residency.py`` so the
pipeline scripts and the CLI cannot drift. Exit codes: 0 pass, 1 a check failed (the failures
are named on stderr), 2 bad input (a malformed lockfile or config; one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent_platform.compliance.report import (
    DEFAULT_CSV,
    DEFAULT_RESIDENCY,
    DEFAULT_ROUTING,
    run_residency_check,
    write_distribution_csv,
)
from agent_platform.config import project_root
from agent_platform.errors import (
    AgentPlatformError,
    ConfigError,
    InvalidInputError,
    LockfileError,
)
from agent_platform.supply_chain.model import VerificationRun
from agent_platform.supply_chain.report import javascript_note, write_report
from agent_platform.supply_chain.verify import (
    DEFAULT_CONFIG,
    PackageVerifier,
    load_supply_chain_config,
)

__all__ = [
    "add_residency_arguments",
    "add_verify_arguments",
    "check_residency_main",
    "register",
    "run_residency",
    "run_verify",
    "verify_packages_main",
]

DEFAULT_REPORT = "evidence/pkg_reality_report.md"


def register(subparsers: Any) -> None:
    """Add the ``packages`` and ``residency`` command groups."""
    packages = subparsers.add_parser("packages", help="package reality verification")
    verbs = packages.add_subparsers(dest="packages_command", required=True, metavar="VERB")
    verify = verbs.add_parser("verify", help="verify a lockfile against registries and advisories")
    add_verify_arguments(verify)
    verify.set_defaults(handler=run_verify)
    residency = subparsers.add_parser("residency", help="EU data-residency checks")
    residency_verbs = residency.add_subparsers(
        dest="residency_command", required=True, metavar="VERB"
    )
    check = residency_verbs.add_parser("check", help="check every vendor and routed provider")
    add_residency_arguments(check)
    check.set_defaults(handler=run_residency)


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``packages verify`` / ``scripts/verify_packages.py``."""
    root = project_root()
    parser.add_argument("--lockfile", type=Path, default=root / "requirements.lock")
    parser.add_argument("--ecosystem", choices=("python", "node"), default="python")
    parser.add_argument(
        "--output",
        type=Path,
        default=root / DEFAULT_REPORT,
        help="Markdown report; a JSON twin is written next to it",
    )
    parser.add_argument("--config", type=Path, default=root / DEFAULT_CONFIG)


def add_residency_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``residency check`` / ``scripts/check_residency.py``."""
    root = project_root()
    parser.add_argument("--config", type=Path, default=root / DEFAULT_RESIDENCY)
    parser.add_argument("--routing", type=Path, default=root / DEFAULT_ROUTING)
    parser.add_argument("--output", type=Path, default=root / DEFAULT_CSV)


def run_verify(args: argparse.Namespace) -> int:
    """Verify one lockfile, write the report and its JSON twin, exit 1 on any failure."""
    config = load_supply_chain_config(args.config)
    root = project_root()
    try:
        run = PackageVerifier(config, root=root).verify_lockfile(args.lockfile, args.ecosystem)
    except LockfileError as exc:
        print(f"verify-packages: error: {exc}", file=sys.stderr)
        return 2
    if args.ecosystem == "python":
        missing = {"node": javascript_note(root)}
    else:
        missing = {
            "python": "Python dependencies are verified in a separate run (--ecosystem python)."
        }
    markdown, twin = write_report([run], args.output, missing)
    _print_failures(run)
    print(
        f"package reality: {run.status}: {run.total} packages, {run.verified} verified, "
        f"{run.unverified} unverified, {run.vulnerabilities} vulnerabilities "
        f"({run.blocking_vulnerabilities} at/above {run.severity_threshold}) in {run.seconds:.2f} s; "
        f"report {markdown} (+ {twin.name})"
    )
    return 0 if run.passed else 1


def _print_failures(run: VerificationRun) -> None:
    for result in run.results:
        pkg = result.package
        if not result.verified:
            print(
                f"unverified: {pkg.name}=={pkg.version}: {'; '.join(result.reasons)}",
                file=sys.stderr,
            )
        for advisory in result.advisories.advisories:
            if advisory.id in result.blocking_advisories:
                print(
                    f"advisory: {pkg.name}=={pkg.version}: {advisory.id} {advisory.severity} "
                    f"({advisory.source})",
                    file=sys.stderr,
                )


def run_residency(args: argparse.Namespace) -> int:
    """Check residency, write the CSV (also on failure), exit 1 naming each violation."""
    report = run_residency_check(args.config, args.routing)
    path = write_distribution_csv(report, args.output)
    for decision in report.violations:
        print(f"residency violation: {decision.vendor}: {decision.reason}", file=sys.stderr)
    verdict = "PASS" if report.passed else "FAIL"
    print(
        f"residency: {verdict}: {len(report.decisions)} vendors, {len(report.violations)} "
        f"violations; providers routed: {', '.join(report.providers)}; wrote {path}"
    )
    return 0 if report.passed else 1


def _main(
    prog: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return handler(args)
    except (ConfigError, InvalidInputError, LockfileError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except AgentPlatformError as exc:
        print(f"{prog}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def verify_packages_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/verify_packages.py``."""
    return _main("verify_packages.py", add_verify_arguments, run_verify, argv)


def check_residency_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/check_residency.py``."""
    return _main("check_residency.py", add_residency_arguments, run_residency, argv)
