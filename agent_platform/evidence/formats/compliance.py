"""Residency and package-reality evidence, read back into gate figures.

- ``metrics/compliance/vendor_region_distribution.csv`` (vendor, region, endpoint_host,
  eu_compliant, reason), written by the residency check through
  :func:`agent_platform.compliance.residency.evaluate_vendor`;
- ``evidence/pkg_reality_report.json``, the machine-readable twin of the package report
  written by the supply-chain library. The package counts are recomputed from the
  per-package records of ``runs[].packages`` (a package is verified only when its record says
  ``verified: true``), never taken from the summary; a report without any package record
  has ``unverified_dependencies`` NOT_MEASURED, so it cannot pass. The time and the
  vulnerability count come from the summary; ``summary_mismatches`` lists summary counts that
  disagree with the records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.csvio import parse_bool, read_csv, round_ratio
from agent_platform.evidence.formats import NOT_MEASURED

__all__ = ["RESIDENCY_COLUMNS", "package_figures", "residency_figures"]

RESIDENCY_COLUMNS = ("vendor", "region", "endpoint_host", "eu_compliant", "reason")


def residency_figures(path: Path) -> dict[str, float | int | str]:
    rows = read_csv(path, RESIDENCY_COLUMNS)
    compliant = sum(
        parse_bool(path, i, "eu_compliant", r["eu_compliant"]) for i, r in enumerate(rows, 2)
    )
    return {
        "eu_compliance_rate": round_ratio(compliant / len(rows)) if rows else NOT_MEASURED,
        "vendors_checked": len(rows),
        "non_eu_vendors": len(rows) - compliant,
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


def package_figures(path: Path) -> dict[str, float | int | str]:
    """Counts recomputed from the package records; advisories and time from the summary."""
    data = _report(path)
    summary = data.get("summary", data)
    records = _package_records(path, data)
    verified = sum(p.get("verified") is True for p in records)
    total = len(records)
    seconds = _number(path, summary, "execution_seconds")
    mismatches = [
        key
        for key, value in (
            ("total", total),
            ("verified", verified),
            ("unverified", total - verified),
        )
        if summary.get(key) != value
    ]
    return {
        "total_dependencies": total,
        "verified_dependencies": verified,
        "unverified_dependencies": total - verified if total else NOT_MEASURED,
        "summary_mismatches": ", ".join(mismatches) or "none",
        "vulnerabilities_found": _number(path, summary, "vulnerabilities"),
        "verification_minutes": round_ratio(seconds / 60.0)
        if isinstance(seconds, float | int)
        else NOT_MEASURED,
    }
