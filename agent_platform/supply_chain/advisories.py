"""Known-vulnerability look-up: the OSV API when it answers, offline data otherwise.

Offline data is, per ecosystem, the first usable of: the directories listed under
``advisories.offline``, then the project's own snapshot (``advisories.snapshot``). The choice is
made per run and recorded: every advisory names the source it came from (the OSV API with the
query time, or the snapshot with its date), and a package whose ecosystem has no usable source
is marked "not checked" with the reason. That package then counts as unverified: an advisory
check that did not happen is never "clean". Offline data older than
``advisories.max_advisory_age_days`` is stale; with ``on_stale_advisories: fail`` its answers
are not accepted (the packages stay unchecked), with ``warn`` they are, and the run says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from agent_platform.errors import SupplyChainError
from agent_platform.schemas.supply_chain import AdvisoryConfig, SnapshotConfig
from agent_platform.supply_chain.model import (
    Advisory,
    AdvisoryCheck,
    Ecosystem,
    LockedPackage,
    SnapshotUse,
    SourceInfo,
)
from agent_platform.supply_chain.offline import OfflineAdvisoryDB
from agent_platform.supply_chain.osv_api import OsvClient
from agent_platform.supply_chain.osv_match import match_record, to_advisory
from agent_platform.supply_chain.severity import UNKNOWN
from agent_platform.supply_chain.snapshot import PACKAGED_SNAPSHOT, SnapshotAdvisoryDB

__all__ = ["AdvisoryOutcome", "AdvisoryService", "OfflineSource", "snapshot_folder"]

Key = tuple[str, str, str]


class OfflineSource(Protocol):
    """What the service needs of an offline source (a directory or the compact snapshot)."""

    @property
    def ecosystem(self) -> Ecosystem: ...

    @property
    def label(self) -> str: ...

    @property
    def snapshot_date(self) -> dt.date: ...

    @property
    def sha256(self) -> str: ...

    def info(self) -> SourceInfo: ...

    def unavailable_reason(self) -> str | None: ...

    def lookup(self, name: str, version: str) -> list[Advisory]: ...


@dataclass(frozen=True)
class AdvisoryOutcome:
    """Per-package checks plus the sources consulted, the offline data relied on (with its
    age) and notes on what failed."""

    checks: dict[Key, AdvisoryCheck]
    sources: tuple[SourceInfo, ...]
    notes: tuple[str, ...]
    snapshots: tuple[SnapshotUse, ...] = ()


def snapshot_folder(config: SnapshotConfig, root: Path) -> Path:
    """The snapshot folder: the configured one (relative to ``root``), else the packaged one."""
    if not config.dir:
        return PACKAGED_SNAPSHOT
    path = Path(config.dir)
    return path if path.is_absolute() else (root / path).resolve()


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
        self.offline: list[OfflineSource] = [OfflineAdvisoryDB(s, root) for s in config.offline]
        if config.snapshot.enabled:
            folder = snapshot_folder(config.snapshot, root)
            self.offline += [
                SnapshotAdvisoryDB(folder, "python"),
                SnapshotAdvisoryDB(folder, "node"),
            ]
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
        return self._via_offline(packages, notes, now)

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

    def _via_offline(
        self, packages: Sequence[LockedPackage], notes: list[str], now: dt.datetime
    ) -> AdvisoryOutcome:
        online = "; ".join(notes) or "the OSV API was not consulted"
        ecosystems = sorted({p.ecosystem for p in packages})
        chosen = {eco: self._offline_for(eco) for eco in ecosystems}
        unusable = {eco: self._why_no_offline(eco) for eco, db in chosen.items() if db is None}
        notes.extend(unusable.values())
        uses = {eco: self._use(db, now) for eco, db in chosen.items() if db is not None}
        notes.extend(u.describe() for u in uses.values() if u.stale)
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
            checks[package.key] = _offline_check(db, package, uses[package.ecosystem])
        return AdvisoryOutcome(
            checks, tuple(used.values()), tuple(notes), tuple(uses[e] for e in sorted(uses))
        )

    def _use(self, db: OfflineSource, now: dt.datetime) -> SnapshotUse:
        age = (now.astimezone(dt.UTC).date() - db.snapshot_date).days
        return SnapshotUse(
            label=db.label,
            ecosystem=db.ecosystem,
            date=db.snapshot_date,
            age_days=age,
            sha256=db.sha256,
            max_age_days=self.config.max_advisory_age_days,
            on_stale=self.config.on_stale_advisories,
        )

    def _offline_for(self, ecosystem: str) -> OfflineSource | None:
        for db in self.offline:
            if db.ecosystem == ecosystem and db.unavailable_reason() is None:
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


def _offline_check(db: OfflineSource, package: LockedPackage, use: SnapshotUse) -> AdvisoryCheck:
    """One package looked up offline; an unreadable record, or stale data the policy refuses,
    leaves it unchecked, not clean."""
    date = db.snapshot_date
    if use.stale and use.on_stale == "fail":
        error = f"advisories not checked: {use.describe()}"
        return AdvisoryCheck(False, db.label, error=error, snapshot_date=date)
    try:
        found = tuple(db.lookup(package.name, package.version))
    except SupplyChainError as exc:
        error = f"advisories not checked: {exc}"
        return AdvisoryCheck(False, db.label, error=error, snapshot_date=date)
    return AdvisoryCheck(True, db.label, found, snapshot_date=date)


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
