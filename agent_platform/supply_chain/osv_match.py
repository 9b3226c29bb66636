"""Does an OSV record affect a given package version? (OSV schema, "affected" evaluation.)

Ranges of type ``ECOSYSTEM`` are compared with PEP 440 for PyPI (``packaging.version``) and with
semver for npm; ``SEMVER`` ranges always with semver; ``GIT`` ranges name commits, not versions,
and are skipped (the explicit ``versions`` list of the same record covers them). A range whose
event versions cannot be parsed is counted as matching: it cannot be ruled out (fail closed).
A record with a ``withdrawn`` date affects nothing (the database retracted it: the PyPA
snapshot holds disputed entries such as PYSEC-2023-73 for redis, withdrawn 2023-06-06).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from agent_platform.errors import InvalidInputError
from agent_platform.supply_chain.model import OSV_ECOSYSTEM, Advisory, Ecosystem
from agent_platform.supply_chain.names import normalize_name
from agent_platform.supply_chain.semver import parse_semver
from agent_platform.supply_chain.severity import record_severity

__all__ = ["match_record", "to_advisory"]

Key = Callable[[str], Any]


def _pep440(text: str) -> Version:
    return Version("0" if text == "0" else text)


def _key_for(ecosystem: Ecosystem, range_type: str) -> Key | None:
    if range_type == "SEMVER" or (range_type == "ECOSYSTEM" and ecosystem == "node"):
        return parse_semver
    if range_type == "ECOSYSTEM":
        return _pep440
    return None


def _in_events(version: str, events: Sequence[Mapping[str, Any]], key: Key) -> bool:
    """The OSV spec's evaluation: walk events in version order, toggling 'affected'."""
    current = key(version)
    ordered: list[tuple[Any, str, str]] = []
    limits: list[Any] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                parsed = key(str(event[kind]))
                if kind == "limit":
                    limits.append(parsed)
                else:
                    ordered.append((parsed, kind, str(event[kind])))
    ordered.sort(key=lambda item: item[0])
    affected = False
    for parsed, kind, _text in ordered:
        if kind == "introduced" and current >= parsed:
            affected = True
        elif (kind == "fixed" and current >= parsed) or (
            kind == "last_affected" and current > parsed
        ):
            affected = False
    if limits and not any(current < limit for limit in limits):
        return False
    return affected


def _describe(events: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{k} {v}" for e in events for k, v in e.items())


def _same_version(ecosystem: Ecosystem, a: str, b: str) -> bool:
    if a == b:
        return True
    if ecosystem == "python":
        try:
            return Version(a) == Version(b)
        except InvalidVersion:
            return False
    return False


def _match_affected(ecosystem: Ecosystem, version: str, affected: Mapping[str, Any]) -> str | None:
    for listed in affected.get("versions") or []:
        if _same_version(ecosystem, version, str(listed)):
            return f"listed version {listed}"
    for rng in affected.get("ranges") or []:
        key = _key_for(ecosystem, str(rng.get("type", "")))
        events = rng.get("events") or []
        if key is None or not events:
            continue
        try:
            hit = _in_events(version, events, key)
        except (InvalidVersion, InvalidInputError):
            return (
                f"{rng.get('type')} range ({_describe(events)}) not comparable; counted as affected"
            )
        if hit:
            return f"{rng.get('type')} range ({_describe(events)})"
    return None


def match_record(
    record: Mapping[str, Any], ecosystem: Ecosystem, name: str, version: str
) -> str | None:
    """How ``record`` affects ``name==version`` (a short description), or None if it does not."""
    if record.get("withdrawn"):
        return None
    wanted = normalize_name(ecosystem, name)
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if str(package.get("ecosystem", "")) != OSV_ECOSYSTEM[ecosystem]:
            continue
        if normalize_name(ecosystem, str(package.get("name", ""))) != wanted:
            continue
        how = _match_affected(ecosystem, version, affected)
        if how is not None:
            return how
    return None


def _fixed_versions(record: Mapping[str, Any], ecosystem: Ecosystem, name: str) -> tuple[str, ...]:
    fixed: list[str] = []
    wanted = normalize_name(ecosystem, name)
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if normalize_name(ecosystem, str(package.get("name", ""))) != wanted:
            continue
        for rng in affected.get("ranges") or []:
            if rng.get("type") == "GIT":
                continue
            fixed.extend(str(e["fixed"]) for e in rng.get("events") or [] if "fixed" in e)
    return tuple(dict.fromkeys(fixed))


def to_advisory(
    record: Mapping[str, Any], ecosystem: Ecosystem, name: str, source: str, matched_by: str
) -> Advisory:
    """The report's view of one OSV record that affects ``name``."""
    level, basis = record_severity(record)
    summary = str(record.get("summary") or record.get("details") or "").strip().splitlines()
    return Advisory(
        id=str(record.get("id", "?")),
        aliases=tuple(str(a) for a in record.get("aliases") or []),
        summary=(summary[0][:160] if summary else ""),
        severity=level,
        severity_basis=basis,
        fixed=_fixed_versions(record, ecosystem, name),
        source=source,
        matched_by=matched_by,
    )
