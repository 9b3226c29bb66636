"""Residency and package-reality evidence, read back into gate figures.

- ``metrics/compliance/vendor_region_distribution.csv`` (vendor, region, endpoint_host,
  eu_compliant, reason), written by the residency check through
  :func:`agent_platform.compliance.residency.evaluate_vendor`;
- ``evidence/pkg_reality_report.json``, the machine-readable twin of the package report
  written by the supply-chain library: the figures come from its summary.
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


def _summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvidenceError(f"{path}: evidence file is missing") from exc
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"{path}: not readable JSON: {exc}") from exc
    summary = data.get("summary", data) if isinstance(data, dict) else None
    if not isinstance(summary, dict):
        raise EvidenceError(f"{path}: expected an object with a 'summary' object")
    return summary


def _number(path: Path, summary: dict[str, Any], key: str) -> float | str:
    value = summary.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            return NOT_MEASURED
        raise EvidenceError(f"{path}: summary.{key}={value!r} is not a number")
    return value


def package_figures(path: Path) -> dict[str, float | int | str]:
    """Totals, unverified count, advisories found and the verification time in minutes."""
    summary = _summary(path)
    seconds = _number(path, summary, "execution_seconds")
    return {
        "total_dependencies": _number(path, summary, "total"),
        "verified_dependencies": _number(path, summary, "verified"),
        "unverified_dependencies": _number(path, summary, "unverified"),
        "vulnerabilities_found": _number(path, summary, "vulnerabilities"),
        "verification_minutes": round_ratio(seconds / 60.0)
        if isinstance(seconds, float | int)
        else NOT_MEASURED,
    }
