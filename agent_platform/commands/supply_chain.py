"""``agent-platform packages verify`` and ``agent-platform residency check``.

The same handlers back ``scripts/verify_packages.py`` and ``scripts/check_residency.py`` so the
pipeline scripts and the CLI cannot drift. Exit codes: 0 pass, 1 a check failed (the failures
are named on stderr), 2 bad input (a malformed lockfile or config; one line, no traceback).

Both write their report to ``.data/reports/`` by default: ``evidence/``, ``metrics/`` and
``notifications/`` belong to the gate (``agent-platform gate`` writes them and hashes them into
the gate JSON), so an everyday run refuses to write there unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent_platform.commands._output import Output
from agent_platform.compliance.report import (
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
from agent_platform.evidence.layout import WORKLOADS
from agent_platform.supply_chain.model import VerificationRun
from agent_platform.supply_chain.report import (
    headline,
    javascript_note,
    report_json,
    write_report,
)
from agent_platform.supply_chain.verify import (
    DEFAULT_CONFIG,
    PackageVerifier,
    load_supply_chain_config,
)

__all__ = [
    "DEFAULT_CSV",
    "DEFAULT_REPORT",
    "add_residency_arguments",
    "add_verify_arguments",
    "check_residency_main",
    "gate_owned",
    "register",
    "run_residency",
    "run_verify",
    "script_main",
    "verify_packages_main",
]

DEFAULT_REPORT = ".data/reports/pkg_reality_report.md"
DEFAULT_CSV = ".data/reports/vendor_region_distribution.csv"
_GATE_DIRS = tuple(sorted({Path(f).parts[0] for w in WORKLOADS for f in w.files} | {"evidence"}))


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
        dest="report",
        type=Path,
        default=root / DEFAULT_REPORT,
        help=f"Markdown report, JSON twin beside it (default {DEFAULT_REPORT})",
    )
    parser.add_argument("--config", type=Path, default=root / DEFAULT_CONFIG)
    _add_force(parser)


def add_residency_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``residency check`` / ``scripts/check_residency.py``."""
    root = project_root()
    parser.add_argument("--config", type=Path, default=root / DEFAULT_RESIDENCY)
    parser.add_argument("--routing", type=Path, default=root / DEFAULT_ROUTING)
    parser.add_argument(
        "--output",
        dest="csv",
        type=Path,
        default=root / DEFAULT_CSV,
        help=f"distribution CSV (default {DEFAULT_CSV})",
    )
    _add_force(parser)


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="allow writing into the gate's evidence folders (evidence/, metrics/)",
    )


def gate_owned(path: Path, root: Path | None = None) -> bool:
    """Whether ``path`` lies in a folder whose files the gate writes and hashes."""
    base = (root or project_root()).resolve()
    target = path.resolve()
    return any(target.is_relative_to(base / folder) for folder in _GATE_DIRS)


def _refuse_gate_paths(args: argparse.Namespace, *paths: Path) -> None:
    owned = [p for p in paths if gate_owned(p)]
    if owned and not args.force:
        raise InvalidInputError(
            f"{owned[0]} is gate evidence (agent-platform gate writes it): choose another "
            "--output, or pass --force to overwrite it"
        )


def run_verify(args: argparse.Namespace) -> int:
    """Verify one lockfile, write the report and its JSON twin, exit 1 on any failure."""
    config = load_supply_chain_config(args.config)
    root = project_root()
    _refuse_gate_paths(args, args.report, args.report.with_suffix(".json"))
    try:
        run = PackageVerifier(config, root=root).verify_lockfile(args.lockfile, args.ecosystem)
    except LockfileError as exc:  # malformed input: exit 2 from the CLI and the script alike
        raise InvalidInputError(str(exc)) from exc
    if args.ecosystem == "python":
        missing = {"node": javascript_note(root)}
    else:
        missing = {
            "python": "Python dependencies are verified in a separate run (--ecosystem python)."
        }
    markdown, twin = write_report([run], args.report, missing)
    _print_failures(run)
    args.output.say(
        f"package reality: {run.status}: {run.total} packages, {run.verified} verified, "
        f"{run.unverified} unverified, {run.vulnerabilities} vulnerabilities "
        f"({run.blocking_vulnerabilities} at/above {run.severity_threshold}) in {run.seconds:.2f} s; "
        f"report {markdown} (+ {twin.name})"
    )
    for line in headline([run]):
        args.output.say(line)
    summary = report_json([run], missing)
    summary.pop("runs")
    args.output.result(summary | {"report": str(markdown), "json_report": str(twin)})
    return 0 if run.passed else 1


def _print_failures(run: VerificationRun) -> None:
    for finding in run.lockfile_findings:
        print(f"lockfile: {finding.level}: {finding.message}", file=sys.stderr)
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
    _refuse_gate_paths(args, args.csv)
    report = run_residency_check(args.config, args.routing)
    path = write_distribution_csv(report, args.csv)
    for decision in report.violations:
        print(f"residency violation: {decision.vendor}: {decision.reason}", file=sys.stderr)
    verdict = "PASS" if report.passed else "FAIL"
    args.output.say(
        f"residency: {verdict}: {len(report.decisions)} vendors, {len(report.violations)} "
        f"violations; providers routed: {', '.join(report.providers)}; wrote {path}"
    )
    args.output.result(
        {
            "status": verdict,
            "csv": str(path),
            "providers": list(report.providers),
            "vendors": [
                {
                    "vendor": d.vendor,
                    "region": d.region,
                    "endpoint_host": d.endpoint_host,
                    "eu_compliant": d.eu_compliant,
                    "reasons": list(d.reasons),
                }
                for d in report.decisions
            ],
        }
    )
    return 0 if report.passed else 1


def script_main(
    prog: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    """Run ``handler`` as a stand-alone script: same options, ``--json`` and exit codes as
    the ``agent-platform`` command."""
    parser = argparse.ArgumentParser(prog=prog)
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="write one JSON document to stdout")
    args = parser.parse_args(argv)
    output = Output(args.json)
    args.output = output
    try:
        return handler(args)
    except (ConfigError, InvalidInputError, LockfileError) as exc:
        return _fail(output, prog, "error", exc, 2)
    except AgentPlatformError as exc:
        return _fail(output, prog, type(exc).__name__, exc, 1)


def _fail(output: Output, prog: str, kind: str, exc: BaseException, code: int) -> int:
    text = " ".join(str(exc).split())
    print(f"{prog}: {kind}: {text}", file=sys.stderr)
    output.error(type(exc).__name__, text, code)
    return code


def verify_packages_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/verify_packages.py``."""
    return script_main("verify_packages.py", add_verify_arguments, run_verify, argv)


def check_residency_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/check_residency.py``."""
    return script_main("check_residency.py", add_residency_arguments, run_residency, argv)
