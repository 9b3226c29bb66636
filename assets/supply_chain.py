"""Package reality and data residency evidence, through the supply-chain and compliance libraries.

- the package report verifies the project's own ``requirements.lock`` against the registry and
  the advisory sources (the report names each source and its date; its headline gives the
  offline advisory snapshot's date, age against the staleness policy, SHA-256 and how many
  packages are newer than it), writing ``evidence/pkg_reality_report.md`` and its JSON twin;
- the residency report judges every vendor and routed provider with the same decision function
  the router uses, writing ``metrics/compliance/vendor_region_distribution.csv``.
"""

from typing import Any

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.compliance import write_residency
from agent_platform.evidence.workloads.residency import RESIDENCY_INPUTS, run_residency
from agent_platform.supply_chain import (
    VerificationRun,
    javascript_note,
    verify_lockfile,
    write_report,
)
from agent_platform.supply_chain.report import headline
from assets._checks import threshold_checks
from assets._common import evidence_metadata, finish, markdown_table
from jobs.resources import EvidenceResource

__all__ = [
    "PACKAGES_KEY",
    "RESIDENCY_KEY",
    "package_checks",
    "pkg_reality_report",
    "residency_checks",
    "vendor_region_distribution",
]

PACKAGES_KEY = AssetKey(["pkg_reality_report"])
RESIDENCY_KEY = AssetKey(["vendor_region_distribution"])
LOCKFILE = "requirements.lock"


def _package_metadata(run: VerificationRun) -> dict[str, Any]:
    summary = (
        run.total,
        run.verified,
        run.unverified,
        run.vulnerabilities,
        run.blocking_vulnerabilities,
        run.newer_than_snapshot,
        f"{run.seconds:.1f}",
    )
    columns = ("total", "verified", "unverified", "advisories", "blocking", "newer", "seconds")
    return {
        "path": paths.PKG_REPORT_MD,
        "headline": " ".join(headline([run])),
        "summary": markdown_table(columns, [summary]),
    }


@asset(
    key=PACKAGES_KEY,
    group_name="supply_chain",
    description="Every locked dependency checked against its registry and advisories.",
)
def pkg_reality_report(
    context: AssetExecutionContext, evidence: EvidenceResource
) -> MaterializeResult:
    started = utc_now_iso()
    root = evidence.project_root()
    run = verify_lockfile(root / LOCKFILE, "python", root=root)
    missing = {"javascript": javascript_note(root)}
    layout = evidence.layout()
    write_report([run], layout.path(paths.PKG_REPORT_MD), missing)
    finished = utc_now_iso()
    finish(
        context,
        evidence,
        "packages",
        started_at=started,
        finished_at=finished,
        sizes={"lockfile": LOCKFILE, "packages": run.total},
        backends={"sources": [f"{s.name} ({s.date})" for s in run.sources]},
    )
    figures = evidence_metadata(layout, "packages")
    return MaterializeResult(metadata={**_package_metadata(run), **figures})


@asset(
    key=RESIDENCY_KEY,
    group_name="supply_chain",
    description="Each vendor's region, endpoint host and EU verdict.",
)
def vendor_region_distribution(
    context: AssetExecutionContext, evidence: EvidenceResource
) -> MaterializeResult:
    started = utc_now_iso()
    report = run_residency(evidence.project_root())
    rows = write_residency(evidence.layout().path(paths.RESIDENCY_CSV), report)
    finished = utc_now_iso()
    finish(
        context,
        evidence,
        "residency",
        started_at=started,
        finished_at=finished,
        sizes={"vendors": rows},
        backends={"config": RESIDENCY_INPUTS[0]},
        declared={"samples": {paths.RESIDENCY_CSV: rows}, "inputs": list(RESIDENCY_INPUTS)},
    )
    table = [
        (d.vendor, d.region, d.endpoint_host, d.eu_compliant, d.reason) for d in report.decisions
    ]
    metadata: dict[str, Any] = {
        "path": paths.RESIDENCY_CSV,
        "vendors": markdown_table(("vendor", "region", "endpoint host", "EU", "reason"), table),
    }
    figures = evidence_metadata(evidence.layout(), "residency")
    return MaterializeResult(metadata={**metadata, **figures})


def package_checks(contract: Contract) -> list[AssetChecksDefinition]:
    return threshold_checks(PACKAGES_KEY, "packages", contract.thresholds_for("packages"))


def residency_checks(contract: Contract) -> list[AssetChecksDefinition]:
    return threshold_checks(RESIDENCY_KEY, "residency", contract.thresholds_for("residency"))
