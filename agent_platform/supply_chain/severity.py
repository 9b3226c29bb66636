"""Severity of an OSV record: the database's own label, else a CVSS v3 base score.

Many records carry no severity at all (most of the PyPA database); those are ``UNKNOWN`` and the
policy decides explicitly what an unknown severity does (``advisories.unknown_severity`` in
``configs/supply_chain.yaml``: ``fail`` counts it as at the threshold, ``warn`` reports it only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agent_platform.schemas.supply_chain import SEVERITY_LEVELS

__all__ = ["UNKNOWN", "at_or_above", "cvss3_base_score", "level_for_score", "record_severity"]

UNKNOWN = "UNKNOWN"

_LABELS = {
    "LOW": "LOW",
    "MODERATE": "MODERATE",
    "MEDIUM": "MODERATE",
    "HIGH": "HIGH",
    "CRITICAL": "CRITICAL",
    "IMPORTANT": "HIGH",
}

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= value, float-error safe."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """Base score of a ``CVSS:3.x/AV:../..`` vector, or None when it is not one."""
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:3"):
        return None
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        changed = metrics["S"] == "C"
        iss = 1 - (1 - _CIA[metrics["C"]]) * (1 - _CIA[metrics["I"]]) * (1 - _CIA[metrics["A"]])
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[metrics["PR"]]
        exploitability = 8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * pr * _UI[metrics["UI"]]
    except KeyError:
        return None
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _roundup(min(total, 10.0))


def level_for_score(score: float) -> str:
    """CVSS qualitative rating, with MEDIUM spelt MODERATE as GitHub's database does."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MODERATE"
    return "LOW"


def _label(value: Any) -> str | None:
    return _LABELS.get(str(value).strip().upper()) if value is not None else None


def record_severity(record: Mapping[str, Any]) -> tuple[str, str]:
    """(level, basis) of an OSV record; level is one of SEVERITY_LEVELS or ``UNKNOWN``."""
    db = record.get("database_specific")
    if isinstance(db, Mapping) and (label := _label(db.get("severity"))):
        return label, "database_specific.severity"
    for affected in record.get("affected") or []:
        for key in ("ecosystem_specific", "database_specific"):
            block = affected.get(key) if isinstance(affected, Mapping) else None
            if isinstance(block, Mapping) and (label := _label(block.get("severity"))):
                return label, f"affected.{key}.severity"
    for entry in record.get("severity") or []:
        if not isinstance(entry, Mapping):
            continue
        score = cvss3_base_score(str(entry.get("score", "")))
        if score is not None:
            return level_for_score(score), f"{entry.get('type', 'CVSS_V3')} base score {score:.1f}"
    return UNKNOWN, "no severity in the record"


def at_or_above(level: str, threshold: str) -> bool:
    """Whether a known ``level`` reaches ``threshold`` (UNKNOWN is the caller's decision)."""
    return SEVERITY_LEVELS.index(level) >= SEVERITY_LEVELS.index(threshold)
