"""Residency and package-reality evidence, read back into gate figures.

- ``metrics/compliance/vendor_region_distribution.csv`` (vendor, region, endpoint_host,
  eu_compliant, reason), written by the residency check. The verdict of each row is not
  trusted: its region and host are judged again with
  :func:`agent_platform.compliance.residency.location_reasons` (the location part of the
  router's own decision), under the policy of the ``configs/vendor_residency.yaml`` beside the
  evidence (the built-in knowledge when there is none). A row counts as compliant only when
  both its region/host and its stored verdict say so; a stored ``true`` that its region/host
  contradicts, or a stored ``false`` with the reason ``compliant``, is listed in
  ``residency_verdict_mismatches``.
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

from agent_platform.compliance.residency import location_reasons
from agent_platform.config import load_yaml_model
from agent_platform.errors import ConfigError, EvidenceError
from agent_platform.evidence.csvio import parse_bool, read_csv, round_ratio
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.schemas.residency import ResidencyConfig, ResidencyPolicy
from agent_platform.supply_chain.report import count_blocking

__all__ = ["RESIDENCY_COLUMNS", "package_figures", "residency_figures"]

RESIDENCY_COLUMNS = ("vendor", "region", "endpoint_host", "eu_compliant", "reason")
_RESIDENCY_CSV_PARTS = ("metrics", "compliance", "vendor_region_distribution.csv")
_RESIDENCY_CONFIG = ("configs", "vendor_residency.yaml")

Figures = dict[str, float | int | str]


def _residency_policy(path: Path) -> ResidencyPolicy:
    """The policy of the residency config of the project the CSV belongs to."""
    if path.parts[-3:] != _RESIDENCY_CSV_PARTS:
        return ResidencyPolicy()
    config = path.parents[2].joinpath(*_RESIDENCY_CONFIG)
    if not config.is_file():
        return ResidencyPolicy()
    try:
        return load_yaml_model(config, ResidencyConfig).policy
    except ConfigError as exc:
        raise EvidenceError(f"{path}: cannot re-judge it: {exc}") from exc


def residency_figures(path: Path) -> Figures:
    """Compliance re-judged from each row's region and host, not read from its verdict."""
    rows = read_csv(path, RESIDENCY_COLUMNS)
    policy = _residency_policy(path)
    compliant = 0
    mismatches: list[str] = []
    for line, row in enumerate(rows, 2):
        stored = parse_bool(path, line, "eu_compliant", row["eu_compliant"])
        reasons = location_reasons(row["vendor"], row["region"], row["endpoint_host"], policy)
        compliant += stored and not reasons
        if stored and reasons:
            mismatches.append(f"{row['vendor']} (stored true; {'; '.join(reasons)})")
        elif not stored and row["reason"].strip() == "compliant":
            mismatches.append(f"{row['vendor']} (stored false with reason 'compliant')")
    return {
        "eu_compliance_rate": round_ratio(compliant / len(rows)) if rows else NOT_MEASURED,
        "vendors_checked": len(rows),
        "non_eu_vendors": len(rows) - compliant,
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
