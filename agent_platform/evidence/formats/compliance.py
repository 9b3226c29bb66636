"""Residency and package-reality evidence, read back into gate figures.

- ``metrics/compliance/vendor_region_distribution.csv`` (vendor, region, endpoint_host,
  eu_compliant, reason), written by the residency check. The stored verdict is never counted:
  each vendor is judged again from its row's region and endpoint host against the product's
  vendor knowledge (:mod:`agent_platform.compliance.vendors`, through
  :func:`~agent_platform.compliance.residency.location_reasons`, the location part of the
  router's own decision) and from its data handling in the residency config
  (:func:`~agent_platform.compliance.residency.handling_reasons`), under the
  ``configs/vendor_residency.yaml`` beside the evidence (the project's when there is none).
  Every vendor of that config and every provider of the routing config beside it must have a
  row: a missing one counts as not compliant. The rate is over distinct vendors (a vendor with
  any non-compliant row is not compliant), with its ``__k``/``__n``; rows whose stored verdict
  disagrees with the recomputed one are listed in ``residency_verdict_mismatches``.
- ``evidence/pkg_reality_report.json``, the machine-readable twin of the package report
  written by the supply-chain library. The package counts are recomputed from the
  per-package records of ``runs[].packages`` (a package is verified only when its record says
  ``verified: true``), never taken from the summary; a report without any package record
  has ``unverified_dependencies`` and ``blocking_vulnerabilities`` NOT_MEASURED, so it cannot
  pass. ``blocking_vulnerabilities`` is :func:`agent_platform.supply_chain.report.count_blocking`
  over the records, the computation the report's own summary uses. The advisory snapshot's
  date, age and hash come from the summary (they describe the run, not a package);
  ``summary_mismatches`` lists summary counts that disagree with the records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_platform.compliance.report import (
    DEFAULT_RESIDENCY,
    DEFAULT_ROUTING,
    ResidencyReport,
    render_distribution_csv,
    routing_providers,
)
from agent_platform.compliance.residency import handling_reasons, location_reasons
from agent_platform.config import load_yaml_model, project_root
from agent_platform.errors import ConfigError, EvidenceError
from agent_platform.evidence.csvio import parse_bool, read_csv, round_ratio
from agent_platform.evidence.files import write_text_atomic
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.supply_chain.report import count_blocking

__all__ = ["RESIDENCY_COLUMNS", "package_figures", "residency_figures", "write_residency"]

RESIDENCY_COLUMNS = ("vendor", "region", "endpoint_host", "eu_compliant", "reason")
_RESIDENCY_CSV_PARTS = ("metrics", "compliance", "vendor_region_distribution.csv")

Figures = dict[str, float | int | str]


def write_residency(path: Path, report: ResidencyReport) -> int:
    """Write the distribution CSV of ``report``; returns its row count."""
    write_text_atomic(path, render_distribution_csv(report))
    return len(report.decisions)


def _beside(path: Path, relative: str) -> Path:
    """``relative`` in the project the CSV belongs to, else in this project."""
    if path.parts[-3:] == _RESIDENCY_CSV_PARTS:
        candidate = path.parents[2] / relative
        if candidate.is_file():
            return candidate
    return project_root() / relative


def _residency_configs(path: Path) -> tuple[ResidencyConfig, tuple[str, ...]]:
    """The residency config and the routed providers the CSV is judged against."""
    try:
        config = load_yaml_model(_beside(path, DEFAULT_RESIDENCY), ResidencyConfig)
        providers = routing_providers(_beside(path, DEFAULT_ROUTING))
    except ConfigError as exc:
        raise EvidenceError(f"{path}: cannot re-judge it: {exc}") from exc
    return config, providers


def _judge_row(config: ResidencyConfig, row: dict[str, str]) -> list[str]:
    """Why the row's vendor is not compliant, from its region and host and its config entry."""
    vendor = config.vendors.get(row["vendor"])
    reasons = location_reasons(
        row["vendor"], row["region"], row["endpoint_host"].strip().lower(), config.policy
    )
    if vendor is None:
        return [*reasons, "no residency entry for this vendor"]
    return reasons + handling_reasons(vendor, config.policy)


def residency_figures(path: Path) -> Figures:
    """Compliance re-judged per vendor from region, host and config; never the stored verdict."""
    rows = read_csv(path, RESIDENCY_COLUMNS)
    config, providers = _residency_configs(path)
    verdicts: dict[str, list[str]] = {}
    mismatches: list[str] = []
    for line, row in enumerate(rows, 2):
        stored = parse_bool(path, line, "eu_compliant", row["eu_compliant"])
        reasons = _judge_row(config, row)
        verdicts.setdefault(row["vendor"], []).extend(reasons)
        if stored == bool(reasons) or (not stored and row["reason"].strip() == "compliant"):
            judged = "; ".join(reasons) or "compliant"
            mismatches.append(f"{row['vendor']} (stored {row['eu_compliant']}; judged: {judged})")
    for vendor in [*config.vendors, *providers]:
        verdicts.setdefault(vendor, ["no row in the distribution CSV"])
    compliant = sum(not reasons for reasons in verdicts.values())
    return {
        "eu_compliance_rate": round_ratio(compliant / len(verdicts)) if verdicts else NOT_MEASURED,
        "eu_compliance_rate__k": compliant,
        "eu_compliance_rate__n": len(verdicts),
        "vendors_checked": len(verdicts),
        "non_eu_vendors": len(verdicts) - compliant,
        "residency_verdict_mismatches": "; ".join(mismatches) or "none",
    }


def _report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvidenceError(f"{path}: evidence file is missing") from exc
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EvidenceError(f"{path}: expected a JSON object")
    summary = data.get("summary", data)
    if not isinstance(summary, dict):
        raise EvidenceError(f"{path}: expected an object with a 'summary' object")
    return data


def _number(path: Path, summary: dict[str, Any], key: str) -> float | str:
    value = summary.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            return NOT_MEASURED
        raise EvidenceError(f"{path}: summary.{key}={value!r} is not a number")
    return value


def _package_records(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise EvidenceError(f"{path}: 'runs' is not a list")
    records: list[dict[str, Any]] = []
    for index, run in enumerate(runs):
        packages = run.get("packages") if isinstance(run, dict) else None
        if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
            raise EvidenceError(f"{path}: runs[{index}].packages is not a list of objects")
        records.extend(packages)
    return records


def _blocking(path: Path, records: list[dict[str, Any]], summary: dict[str, Any]) -> int | str:
    """Blocking advisories counted over the records.

    Records written without ``blocking_advisories`` (an older report) prove zero only when the
    summary says no advisory affects any locked version at all.
    """
    if not records:
        return NOT_MEASURED
    if any(not isinstance(r.get("blocking_advisories", []), list) for r in records):
        raise EvidenceError(f"{path}: a package's blocking_advisories is not a list")
    if all("blocking_advisories" in r for r in records):
        return count_blocking(records)
    return 0 if _number(path, summary, "vulnerabilities") == 0 else NOT_MEASURED


def _newer(records: list[dict[str, Any]]) -> int | str:
    if not records or not all(isinstance(r.get("findings"), list) for r in records):
        return NOT_MEASURED
    return sum(
        any(isinstance(f, dict) and f.get("kind") == "newer_than_snapshot" for f in r["findings"])
        for r in records
    )


def _snapshot_figures(path: Path, summary: dict[str, Any]) -> Figures:
    """Date, age, hash and staleness of the offline advisory data the run relied on."""
    keys = ("date", "age_days", "sha256", "stale")
    names = [f"advisory_snapshot_{k}" for k in keys]
    if "advisory_snapshot" not in summary:
        return dict.fromkeys(names, NOT_MEASURED)
    block = summary["advisory_snapshot"]
    if block is None:
        return dict.fromkeys(names, "not used: the OSV API answered")
    if not isinstance(block, dict) or any(k not in block for k in keys):
        raise EvidenceError(f"{path}: advisory_snapshot must hold {list(keys)}")
    age = block["age_days"]
    if isinstance(age, bool) or not isinstance(age, int):
        raise EvidenceError(f"{path}: advisory_snapshot.age_days={age!r} is not a whole number")
    stale = "yes" if block["stale"] is True else "no"
    return dict(zip(names, (str(block["date"]), age, str(block["sha256"]), stale), strict=True))


def package_figures(path: Path) -> Figures:
    """Counts recomputed from the package records; advisories and time from the summary."""
    data = _report(path)
    summary = data.get("summary", data)
    records = _package_records(path, data)
    verified = sum(p.get("verified") is True for p in records)
    total = len(records)
    seconds = _number(path, summary, "execution_seconds")
    blocking = _blocking(path, records, summary)
    newer = _newer(records)
    recomputed = {
        "total": total,
        "verified": verified,
        "unverified": total - verified,
        "blocking_vulnerabilities": blocking,
        "packages_newer_than_snapshot": newer,
    }
    mismatches = [
        key
        for key, value in recomputed.items()
        if (key in ("total", "verified", "unverified") or key in summary)
        and summary.get(key) != value
    ]
    return {
        "total_dependencies": total,
        "verified_dependencies": verified,
        "unverified_dependencies": total - verified if total else NOT_MEASURED,
        "summary_mismatches": ", ".join(mismatches) or "none",
        "vulnerabilities_found": _number(path, summary, "vulnerabilities"),
        "blocking_vulnerabilities": blocking,
        "packages_newer_than_snapshot": newer,
        **_snapshot_figures(path, summary),
        "verification_minutes": round_ratio(seconds / 60.0)
        if isinstance(seconds, float | int)
        else NOT_MEASURED,
    }
