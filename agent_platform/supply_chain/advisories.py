"""Known-vulnerability look-up: the OSV API when it answers, an offline OSV snapshot otherwise.

The choice is made per run and recorded: every advisory names the source it came from, and a
package whose ecosystem has no reachable source is marked "not checked" with the reason. That
package then counts as unverified: an advisory check that did not happen is never "clean".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent_platform.errors import SupplyChainError
from agent_platform.schemas.supply_chain import AdvisoryConfig
from agent_platform.supply_chain.model import (
    Advisory,
    AdvisoryCheck,
    LockedPackage,
    SourceInfo,
)
from agent_platform.supply_chain.offline import OfflineAdvisoryDB
from agent_platform.supply_chain.osv_api import OsvClient
from agent_platform.supply_chain.osv_match import match_record, to_advisory
from agent_platform.supply_chain.severity import UNKNOWN

__all__ = ["AdvisoryOutcome", "AdvisoryService"]

Key = tuple[str, str, str]


@dataclass(frozen=True)
class AdvisoryOutcome:
    """Per-package checks plus the sources consulted and notes on what failed."""

    checks: dict[Key, AdvisoryCheck]
    sources: tuple[SourceInfo, ...]
    notes: tuple[str, ...]


class AdvisoryService:
    """Run the advisory look-up for a set of packages.

    Args:
        config: the ``advisories`` block of ``configs/supply_chain.yaml``.
        root: the project root that relative offline paths are resolved against.
        retries / max_workers: HTTP behaviour for the OSV API.
        transport: an httpx transport instead of the network (tests).
    """

    def __init__(
        self,
        config: AdvisoryConfig,
        root: Path,
        *,
        retries: int = 2,
        max_workers: int = 16,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.offline = [OfflineAdvisoryDB(source, root) for source in config.offline]
        self._osv_args: dict[str, Any] = {
            "timeout_s": config.osv_timeout_s,
            "retries": retries,
            "max_workers": max_workers,
            "transport": transport,
        }

    def check(self, packages: Sequence[LockedPackage], now: dt.datetime) -> AdvisoryOutcome:
        """Look up every package; never raises for an unreachable source (fails closed)."""
        if not packages:
            return AdvisoryOutcome({}, (), ())
        notes: list[str] = []
        if self.config.osv_enabled:
            try:
                return self._via_osv(packages, now)
            except SupplyChainError as exc:
                notes.append(f"{exc}; falling back to offline advisory sources")
        else:
            notes.append("OSV API disabled in configs/supply_chain.yaml (advisories.osv_enabled)")
        return self._via_offline(packages, notes)

    def _via_osv(self, packages: Sequence[LockedPackage], now: dt.datetime) -> AdvisoryOutcome:
        client = OsvClient(self.config.osv_url, **self._osv_args)
        try:
            ids = client.query(packages)
            records = client.details([i for found in ids.values() for i in found])
        finally:
            client.close()
        stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        label = f"OSV API {self.config.osv_url} queried {stamp}"
        checks: dict[Key, AdvisoryCheck] = {}
        for p in packages:
            found = (_osv_advisory(p, i, records.get(i), label) for i in ids[p.key])
            checks[p.key] = AdvisoryCheck(True, label, tuple(a for a in found if a is not None))
        info = SourceInfo(
            "OSV API", "online", self.config.osv_url, stamp, "live data at query time"
        )
        return AdvisoryOutcome(checks, (info,), ())

    def _via_offline(self, packages: Sequence[LockedPackage], notes: list[str]) -> AdvisoryOutcome:
        online = "; ".join(notes) or "the OSV API was not consulted"
        ecosystems = sorted({p.ecosystem for p in packages})
        chosen = {eco: self._offline_for(eco) for eco in ecosystems}
        unusable = {eco: self._why_no_offline(eco) for eco, db in chosen.items() if db is None}
        notes.extend(unusable.values())
        checks: dict[Key, AdvisoryCheck] = {}
        used: dict[str, SourceInfo] = {}
        for package in packages:
            db = chosen[package.ecosystem]
            if db is None:
                error = (
                    f"advisories not checked: no advisory source for {package.ecosystem} could "
                    f"be used ({online}; {unusable[package.ecosystem]})"
                )
                checks[package.key] = AdvisoryCheck(False, "none", error=error)
                continue
            used[db.label] = db.info()
            checks[package.key] = _offline_check(db, package)
        return AdvisoryOutcome(checks, tuple(used.values()), tuple(notes))

    def _offline_for(self, ecosystem: str) -> OfflineAdvisoryDB | None:
        for db in self.offline:
            if db.ecosystem == ecosystem and db.available():
                return db
        return None

    def _why_no_offline(self, ecosystem: str) -> str:
        reasons = [
            reason
            for db in self.offline
            if db.ecosystem == ecosystem and (reason := db.unavailable_reason()) is not None
        ]
        if not reasons:
            return f"no offline advisory source is configured for {ecosystem}"
        return "; ".join(reasons)


def _offline_check(db: OfflineAdvisoryDB, package: LockedPackage) -> AdvisoryCheck:
    """One package looked up offline; an unreadable record leaves it unchecked, not clean."""
    try:
        return AdvisoryCheck(True, db.label, tuple(db.lookup(package.name, package.version)))
    except SupplyChainError as exc:
        return AdvisoryCheck(False, db.label, error=f"advisories not checked: {exc}")


def _osv_advisory(
    package: LockedPackage, vuln_id: str, record: Mapping[str, Any] | None, label: str
) -> Advisory | None:
    """The advisory for one id the API returned; None when its record is withdrawn."""
    if record is not None and record.get("withdrawn"):
        return None
    if record is None:
        return Advisory(
            id=vuln_id,
            aliases=(),
            summary="details could not be fetched from the OSV API",
            severity=UNKNOWN,
            severity_basis="record not fetched",
            fixed=(),
            source=label,
            matched_by="OSV API querybatch",
        )
    how = match_record(record, package.ecosystem, package.name, package.version)
    return to_advisory(
        record,
        package.ecosystem,
        package.name,
        label,
        how or "OSV API querybatch (server-side match)",
    )
