"""The value types of package verification, shared by parsing, checking and reporting.

Everything here is a frozen dataclass with no I/O, so the report can be rendered (and tested)
from values alone, and the JSON twin of the report is just these values serialised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "OSV_ECOSYSTEM",
    "Advisory",
    "AdvisoryCheck",
    "Ecosystem",
    "Finding",
    "LockedPackage",
    "PackageResult",
    "RegistryAnswer",
    "ReleaseInfo",
    "SnapshotUse",
    "SourceInfo",
    "VerificationRun",
]

Ecosystem = Literal["python", "node"]

OSV_ECOSYSTEM: dict[str, str] = {"python": "PyPI", "node": "npm"}


@dataclass(frozen=True)
class LockedPackage:
    """One pinned dependency as the lockfile states it.

    ``hashes`` are normalised to ``algo:hex`` for sha256/sha1 and ``sha512-<base64>`` (SRI) for
    npm integrity strings. ``source`` is ``registry`` or a description of where else it comes
    from (git, path, URL): those cannot be verified against a registry. ``index`` is the
    package index the lockfile itself names for it (uv.lock's ``source.registry``), if any.
    """

    ecosystem: Ecosystem
    name: str
    version: str
    hashes: tuple[str, ...] = ()
    marker: str = ""
    location: str = ""
    source: str = "registry"
    index: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ecosystem, self.name, self.version)


@dataclass(frozen=True)
class ReleaseInfo:
    """What the registry says about one released version (a positive answer, cacheable)."""

    ecosystem: Ecosystem
    name: str
    version: str
    digests: frozenset[str]
    upload_time: dt.datetime | None
    yanked: bool = False
    yanked_reason: str = ""
    deprecated: str = ""


@dataclass(frozen=True)
class RegistryAnswer:
    """The registry's answer for one package version.

    ``outcome`` is ``found`` (``release`` set), ``unknown_package``, ``unknown_version`` or
    ``error`` (the registry could not be asked; ``detail`` says why). Only ``found`` is cached.
    """

    outcome: Literal["found", "unknown_package", "unknown_version", "error"]
    release: ReleaseInfo | None = None
    detail: str = ""
    from_cache: bool = False


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth noting) about a package; ``level`` fail makes it unverified."""

    kind: str
    level: Literal["fail", "warn"]
    message: str


@dataclass(frozen=True)
class Advisory:
    """One advisory that affects a package version, with where it came from."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str
    severity_basis: str
    fixed: tuple[str, ...]
    source: str
    matched_by: str


@dataclass(frozen=True)
class AdvisoryCheck:
    """The advisory look-up for one package: ``checked`` False means it could not be done.

    ``snapshot_date`` is set when the answer came from offline data of that date (None: the
    live OSV API), so a release newer than the data can be told apart.
    """

    checked: bool
    source: str
    advisories: tuple[Advisory, ...] = ()
    error: str = ""
    snapshot_date: dt.date | None = None


@dataclass(frozen=True)
class SnapshotUse:
    """Offline advisory data one run relied on, with its age judged against the policy."""

    label: str
    ecosystem: str
    date: dt.date
    age_days: int
    sha256: str
    max_age_days: int
    on_stale: str

    @property
    def stale(self) -> bool:
        return self.age_days > self.max_age_days

    def describe(self) -> str:
        """One sentence for headlines and notes."""
        verdict = (
            f"STALE: older than the {self.max_age_days} days allowed "
            f"(advisories.on_stale_advisories: {self.on_stale})"
            if self.stale
            else f"within the {self.max_age_days} days allowed"
        )
        digest = self.sha256 or "not hashed (a directory of records)"
        return (
            f"{self.label}: dated {self.date.isoformat()}, {self.age_days} days old, {verdict}; "
            f"sha256 {digest}"
        )


@dataclass(frozen=True)
class SourceInfo:
    """A data source the run used, with its date, so every figure names its provenance."""

    name: str
    kind: str
    location: str
    date: str
    note: str = ""
    licence: str = ""


@dataclass(frozen=True)
class PackageResult:
    """Everything the run learned about one locked package."""

    package: LockedPackage
    verified: bool
    registry: RegistryAnswer
    advisories: AdvisoryCheck
    findings: tuple[Finding, ...] = ()
    blocking_advisories: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the package is not verified (empty when it is)."""
        return tuple(f.message for f in self.findings if f.level == "fail")


@dataclass(frozen=True)
class VerificationRun:
    """One verification of one lockfile."""

    ecosystem: Ecosystem
    lockfile: str
    started_at: dt.datetime
    seconds: float
    results: tuple[PackageResult, ...]
    sources: tuple[SourceInfo, ...]
    severity_threshold: str
    unknown_severity: str
    min_release_age_days: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    lockfile_findings: tuple[Finding, ...] = field(default_factory=tuple)
    snapshots: tuple[SnapshotUse, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def verified(self) -> int:
        return sum(1 for r in self.results if r.verified)

    @property
    def unverified(self) -> int:
        return self.total - self.verified

    @property
    def vulnerabilities(self) -> int:
        """Advisories affecting a locked version (all severities)."""
        return sum(len(r.advisories.advisories) for r in self.results)

    @property
    def blocking_vulnerabilities(self) -> int:
        """Advisories at or above the severity threshold (unknown severity per policy)."""
        return sum(len(r.blocking_advisories) for r in self.results)

    @property
    def newer_than_snapshot(self) -> int:
        """Packages released after the offline advisory data that checked them."""
        return sum(
            1 for r in self.results if any(f.kind == "newer_than_snapshot" for f in r.findings)
        )

    @property
    def lockfile_failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.lockfile_findings if f.level == "fail")

    @property
    def passed(self) -> bool:
        return (
            not self.lockfile_failures
            and self.unverified == 0
            and self.blocking_vulnerabilities == 0
        )

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "FAIL"
