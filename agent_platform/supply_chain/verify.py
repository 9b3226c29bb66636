"""Verify a lockfile: registry reality, integrity, age, typosquats and advisories, fail closed.

A package is *verified* only when every check ran and none failed: the registry answered and
knows the pinned version, the lockfile pins hashes and they are ones the registry lists, no
fail-level finding applies, and an advisory source could be consulted. Anything that could not
be checked is unverified with the reason. Vulnerabilities are counted separately; those at or
above the configured severity (or of unknown severity, if the policy says so) fail the run.

What the lockfile says about itself is judged too: a line sending pip to another index, or a
lockfile pinning nothing, is a finding at its policy level; a fail-level one fails the run and
makes every package it affects unverified (pip would not fetch them from the registry that
vouched for them).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from agent_platform.config import load_yaml_model, project_root
from agent_platform.schemas.supply_chain import SupplyChainConfig
from agent_platform.supply_chain.advisories import AdvisoryService
from agent_platform.supply_chain.cache import RegistryCache
from agent_platform.supply_chain.lockfiles import LockfileIssue, read_lockfile
from agent_platform.supply_chain.model import (
    AdvisoryCheck,
    Ecosystem,
    Finding,
    LockedPackage,
    PackageResult,
    RegistryAnswer,
    SourceInfo,
    VerificationRun,
)
from agent_platform.supply_chain.names import normalize_name
from agent_platform.supply_chain.registry import RegistryClient
from agent_platform.supply_chain.severity import UNKNOWN, at_or_above
from agent_platform.supply_chain.typosquat import TyposquatChecker

__all__ = ["DEFAULT_CONFIG", "PackageVerifier", "load_supply_chain_config", "verify_lockfile"]

DEFAULT_CONFIG = "configs/supply_chain.yaml"
_REGISTRY_NAMES = {"python": "PyPI JSON API", "node": "npm registry"}


def load_supply_chain_config(path: Path | None = None) -> SupplyChainConfig:
    """Load ``configs/supply_chain.yaml`` (or ``path``); errors name file, key and value."""
    return load_yaml_model(path or project_root() / DEFAULT_CONFIG, SupplyChainConfig)


class PackageVerifier:
    """Checks packages with one registry client and one advisory service.

    Args:
        config: the supply-chain configuration.
        root: project root for relative paths (cache, offline advisories).
        transport: an httpx transport for every HTTP request (tests); None uses the network.
    """

    def __init__(
        self,
        config: SupplyChainConfig,
        *,
        root: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.root = root or project_root()
        self.transport = transport
        self.typosquat = TyposquatChecker(config.typosquat)

    def registry_client(self) -> RegistryClient:
        """A registry client with this configuration (the caller closes it)."""
        return RegistryClient.from_config(
            self.config.registries, self.config.cache, self.root, transport=self.transport
        )

    def verify_lockfile(
        self, path: Path, ecosystem: Ecosystem, *, now: dt.datetime | None = None
    ) -> VerificationRun:
        """Parse ``path`` and verify every package in it.

        Raises:
            InputFileError: the file is missing, special, too large or not UTF-8.
            LockfileError: the lockfile is malformed or not fully pinned.
        """
        parsed = read_lockfile(path, ecosystem)
        try:
            label = str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            label = str(path)
        findings = tuple(
            Finding(i.kind, self.config.policy.level(i.kind), i.message)
            for i in parsed.issues
            if not self._allowed_index(i)
        )
        return self.verify_packages(
            parsed.packages, ecosystem, lockfile=label, now=now, lockfile_findings=findings
        )

    def _allowed_index(self, issue: LockfileIssue) -> bool:
        """An index option naming an index the policy allows is not an override."""
        return issue.option in ("--index-url", "--extra-index-url") and self._index_ok(issue.value)

    def _index_ok(self, url: str) -> bool:
        regs = self.config.registries
        allowed = {*self.config.policy.allowed_indexes, regs.pypi_url, f"{regs.pypi_url}/simple"}
        return url.rstrip("/") in {a.rstrip("/") for a in allowed}

    def verify_packages(
        self,
        packages: Sequence[LockedPackage],
        ecosystem: Ecosystem,
        *,
        lockfile: str = "",
        now: dt.datetime | None = None,
        lockfile_findings: Sequence[Finding] = (),
    ) -> VerificationRun:
        """Verify already-parsed packages; never raises for network trouble (fails closed).

        Fail-level ``lockfile_findings`` are added to every package, which is then unverified.
        """
        started = time.perf_counter()
        moment = now or dt.datetime.now(dt.UTC)
        answers = self._answers(packages)
        service = AdvisoryService(
            self.config.advisories,
            self.root,
            retries=self.config.registries.retries,
            max_workers=self.config.registries.max_concurrency,
            transport=self.transport,
        )
        outcome = service.check(packages, moment)
        shared = tuple(f for f in lockfile_findings if f.level == "fail")
        results = tuple(
            self._judge(p, answers[p.key], outcome.checks[p.key], moment, shared) for p in packages
        )
        registry = self._registry_source(ecosystem, packages, answers, moment)
        return VerificationRun(
            ecosystem=ecosystem,
            lockfile=lockfile,
            started_at=moment,
            seconds=time.perf_counter() - started,
            results=results,
            sources=(registry, *outcome.sources),
            severity_threshold=self.config.advisories.severity_threshold,
            unknown_severity=self.config.advisories.unknown_severity,
            min_release_age_days=self.config.policy.min_release_age_days,
            notes=outcome.notes,
            lockfile_findings=tuple(lockfile_findings),
            snapshots=outcome.snapshots,
        )

    def _answers(
        self, packages: Sequence[LockedPackage]
    ) -> dict[tuple[str, str, str], RegistryAnswer]:
        """The registry's answer for every package from a registry (others are not asked)."""
        with self.registry_client() as client:
            answers = client.releases([p for p in packages if p.source == "registry"])
        skipped = RegistryAnswer("error", detail="not looked up: not from a registry")
        return {p.key: answers.get(p.key, skipped) for p in packages}

    def _registry_source(
        self,
        ecosystem: Ecosystem,
        packages: Sequence[LockedPackage],
        answers: Mapping[tuple[str, str, str], RegistryAnswer],
        moment: dt.datetime,
    ) -> SourceInfo:
        """The registry as a source, dated by the oldest answer used (a cache entry's own
        storage time when the answer came from the cache), with the cache hits stated."""
        hits = [p for p in packages if answers[p.key].from_cache]
        stored = [t for t in (self._cached_at(p) for p in hits) if t is not None]
        live = len(packages) - len(hits)
        dates = [*stored, *([moment] if live or not packages else [])]
        note = f"{len(hits)}/{len(packages)} answers from cache"
        if stored:
            note += f" (cached at {_stamp(min(stored))} to {_stamp(max(stored))})"
        if live:
            note += f"; {live} asked live at {_stamp(moment)}"
        date = _stamp(min(dates)) if dates else "unknown (cache entry dates unreadable)"
        url = self._registry_url(ecosystem)
        return SourceInfo(_REGISTRY_NAMES[ecosystem], "registry", url, date, note)

    def _cached_at(self, package: LockedPackage) -> dt.datetime | None:
        """When the cache entry answering ``package`` was stored (None: unreadable)."""
        cache = self.config.cache
        base = Path(cache.dir) if Path(cache.dir).is_absolute() else self.root / cache.dir
        url = self._registry_url(package.ecosystem)
        name = normalize_name(package.ecosystem, package.name).replace("/", "__")
        version = package.version.replace("/", "_") or "_project"
        path = RegistryCache(base, 0, url).directory / package.ecosystem / name / f"{version}.json"
        try:
            stored = json.loads(path.read_text(encoding="utf-8")).get("stored_at")
        except (OSError, ValueError, AttributeError):
            return None
        if isinstance(stored, bool) or not isinstance(stored, int | float):
            return None
        return dt.datetime.fromtimestamp(stored, dt.UTC)

    def _registry_url(self, ecosystem: Ecosystem) -> str:
        regs = self.config.registries
        return regs.pypi_url if ecosystem == "python" else regs.npm_url

    def _judge(
        self,
        package: LockedPackage,
        answer: RegistryAnswer,
        advisories: AdvisoryCheck,
        now: dt.datetime,
        shared: Sequence[Finding] = (),
    ) -> PackageResult:
        findings = [*shared, *self._registry_findings(package, answer, now)]
        findings += self._source_findings(package, answer, advisories)
        suspects = self.typosquat.suspects(package.ecosystem, package.name)
        if suspects:
            findings.append(
                self._finding("typosquat", f"name is one edit away from popular {suspects}")
            )
        if not advisories.checked:
            findings.append(Finding("advisories_unchecked", "fail", advisories.error))
        blocking = tuple(a.id for a in advisories.advisories if self._blocks(a.severity))
        verified = not any(f.level == "fail" for f in findings)
        return PackageResult(package, verified, answer, advisories, tuple(findings), blocking)

    def _finding(self, kind: str, message: str) -> Finding:
        return Finding(kind, self.config.policy.level(kind), message)

    def _registry_findings(
        self, package: LockedPackage, answer: RegistryAnswer, now: dt.datetime
    ) -> list[Finding]:
        if package.source != "registry":
            return []
        if answer.outcome == "unknown_package":
            return [Finding("unknown_package", "fail", f"unknown package: {answer.detail}")]
        if answer.outcome == "unknown_version":
            return [Finding("unknown_version", "fail", f"unknown version: {answer.detail}")]
        if answer.outcome == "error" or answer.release is None:
            return [
                Finding("registry_unreachable", "fail", f"registry not checked: {answer.detail}")
            ]
        release = answer.release
        findings: list[Finding] = []
        if release.yanked:
            reason = f" ({release.yanked_reason})" if release.yanked_reason else ""
            findings.append(self._finding("yanked", f"release {release.version} is yanked{reason}"))
        if release.deprecated:
            findings.append(self._finding("deprecated", f"deprecated: {release.deprecated[:120]}"))
        unlisted = [h for h in package.hashes if h not in release.digests]
        if unlisted:
            findings.append(
                self._finding(
                    "hash_mismatch",
                    f"{len(unlisted)} lockfile hash(es) not listed by the registry, e.g. {unlisted[0][:30]}…",
                )
            )
        min_age = dt.timedelta(days=self.config.policy.min_release_age_days)
        if release.upload_time is not None and now - release.upload_time < min_age:
            age_days = (now - release.upload_time).total_seconds() / 86400
            findings.append(
                self._finding(
                    "too_young",
                    f"released {age_days:.1f} days ago "
                    f"(minimum {self.config.policy.min_release_age_days:g} days)",
                )
            )
        return findings

    def _source_findings(
        self, package: LockedPackage, answer: RegistryAnswer, advisories: AdvisoryCheck
    ) -> list[Finding]:
        """Where the package comes from, whether it is hashed, and whether it is newer than
        the offline advisory data that checked it."""
        where = package.location or package.name
        if package.source != "registry":
            return [
                self._finding(
                    "non_registry_source",
                    f"{where}: not from a registry ({package.source}), so it cannot be checked "
                    "against one",
                )
            ]
        findings: list[Finding] = []
        if package.index and not self._index_ok(package.index):
            findings.append(
                self._finding(
                    "index_override",
                    f"{where}: locked from index {package.index}, not the registry verified "
                    "here (policy.allowed_indexes)",
                )
            )
        if not package.hashes:
            findings.append(
                self._finding(
                    "missing_hashes",
                    f"{where}: no hash pinned, so the archive pip installs is not tied to what "
                    "the registry lists",
                )
            )
        release = answer.release
        snapshot = advisories.snapshot_date
        if snapshot and release and release.upload_time and release.upload_time.date() > snapshot:
            findings.append(
                self._finding(
                    "newer_than_snapshot",
                    f"released {release.upload_time.date().isoformat()}, after the advisory "
                    f"data of {snapshot.isoformat()}: advisories published since are not known",
                )
            )
        return findings

    def _blocks(self, severity: str) -> bool:
        if severity == UNKNOWN:
            return self.config.advisories.unknown_severity == "fail"
        return at_or_above(severity, self.config.advisories.severity_threshold)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_lockfile(
    path: Path,
    ecosystem: Ecosystem,
    config: SupplyChainConfig | None = None,
    *,
    root: Path | None = None,
    now: dt.datetime | None = None,
) -> VerificationRun:
    """Verify one lockfile with the project's configuration (or ``config``)."""
    verifier = PackageVerifier(config or load_supply_chain_config(), root=root)
    return verifier.verify_lockfile(path, ecosystem, now=now)
