"""Schema of ``configs/supply_chain.yaml``: registries, advisory sources, cache and policy.

Every knob of package verification lives here so tests can point the verifier at a loopback
registry and an offline advisory directory without patching anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FINDING_KINDS",
    "SEVERITY_LEVELS",
    "AdvisoryConfig",
    "CacheConfig",
    "OfflineAdvisorySource",
    "PolicyConfig",
    "RegistryConfig",
    "SnapshotConfig",
    "SupplyChainConfig",
    "TyposquatConfig",
]

SEVERITY_LEVELS: tuple[str, ...] = ("LOW", "MODERATE", "HIGH", "CRITICAL")
FINDING_KINDS: tuple[str, ...] = (
    "yanked",
    "hash_mismatch",
    "too_young",
    "typosquat",
    "deprecated",
    "missing_hashes",
    "index_override",
    "empty_lockfile",
    "non_registry_source",
    "newer_than_snapshot",
)

Ecosystem = Literal["python", "node"]
Level = Literal["fail", "warn"]


_DEFAULT_FINDINGS: dict[str, Level] = {
    "yanked": "fail",
    "hash_mismatch": "fail",
    "too_young": "warn",
    "typosquat": "fail",
    "deprecated": "warn",
    "missing_hashes": "fail",
    "index_override": "fail",
    "empty_lockfile": "fail",
    "non_registry_source": "fail",
    "newer_than_snapshot": "warn",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistryConfig(_Frozen):
    """Where the registries answer and how hard to push them."""

    pypi_url: str = "https://pypi.org"
    npm_url: str = "https://registry.npmjs.org"
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    max_concurrency: int = Field(default=16, ge=1, le=64)
    retries: int = Field(default=2, ge=0, le=5)


class OfflineAdvisorySource(_Frozen):
    """A directory of OSV-format YAML/JSON files, one folder per package."""

    name: str = Field(min_length=1)
    ecosystem: Ecosystem
    path: str = Field(min_length=1, description="relative to the project root unless absolute")
    snapshot: str = Field(min_length=1)
    snapshot_date: dt.date
    licence: str = Field(min_length=1)


class SnapshotConfig(_Frozen):
    """The project's own compact advisory snapshot (see ``agent-platform advisories``)."""

    enabled: bool = True
    dir: str = Field(
        default="",
        description="empty: the snapshot inside the package; else a folder (relative to the "
        "project root unless absolute) that ``advisories update`` writes and lookups read",
    )


class AdvisoryConfig(_Frozen):
    """The OSV API first; offline directories, then the project's snapshot, when it cannot
    be reached. Offline data older than ``max_advisory_age_days`` is stale: ``warn`` reports
    it, ``fail`` leaves the packages it would answer for unchecked (so unverified)."""

    osv_enabled: bool = True
    osv_url: str = "https://api.osv.dev"
    osv_timeout_s: float = Field(default=20.0, gt=0, le=300)
    offline: list[OfflineAdvisorySource] = Field(default_factory=list)
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    max_advisory_age_days: int = Field(default=30, ge=1, le=3650)
    on_stale_advisories: Level = "warn"
    bulk_export_url: str = "https://osv-vulnerabilities.storage.googleapis.com"
    bulk_export_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    severity_threshold: Literal["LOW", "MODERATE", "HIGH", "CRITICAL"] = "MODERATE"
    unknown_severity: Level = "fail"


class CacheConfig(_Frozen):
    """On-disk cache of positive registry answers."""

    enabled: bool = True
    dir: str = ".data/supply_chain/registry_cache"
    ttl_hours: float = Field(default=24.0, gt=0)


class PolicyConfig(_Frozen):
    """What each finding does to a package: ``fail`` makes it unverified, ``warn`` only notes it."""

    min_release_age_days: float = Field(default=7.0, ge=0)
    findings: dict[str, Level] = Field(default_factory=lambda: dict(_DEFAULT_FINDINGS))
    allowed_indexes: list[str] = Field(
        default_factory=lambda: ["https://pypi.org/simple"],
        description="package indexes a lockfile may name (besides the configured registry)",
    )

    @field_validator("findings")
    @classmethod
    def _known_kinds(cls, findings: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(findings) - set(FINDING_KINDS))
        if unknown:
            raise ValueError(f"unknown finding kinds {unknown}; allowed: {list(FINDING_KINDS)}")
        return findings

    def level(self, kind: str) -> Level:
        """The configured level of ``kind``; unlisted kinds fail (fail closed)."""
        return self.findings.get(kind, "fail")


class TyposquatConfig(_Frozen):
    """Names one edit away from a popular package are suspicious, unless allow-listed."""

    max_distance: int = Field(default=1, ge=1, le=2)
    allow: list[str] = Field(default_factory=list)
    popular: dict[Ecosystem, list[str]] = Field(default_factory=dict)


class SupplyChainConfig(_Frozen):
    registries: RegistryConfig = Field(default_factory=RegistryConfig)
    advisories: AdvisoryConfig = Field(default_factory=AdvisoryConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    typosquat: TyposquatConfig = Field(default_factory=TyposquatConfig)
