"""Ask PyPI and the npm registry whether packages and pinned versions really exist.

PyPI: the project document ``/pypi/NAME/json``; its ``releases`` map carries every version's
files with their sha256 digests, upload times and yanked flags (the per-version endpoint is not
used: it does not answer everywhere). npm: the package document ``/NAME`` with ``versions``
(``dist.integrity``/``shasum``, ``deprecated``) and ``time``.

Requests run on a bounded thread pool over one pooled ``httpx.Client``; positive answers go to
the on-disk cache, failures and 404s never do.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from packaging.version import InvalidVersion, Version

from agent_platform.errors import InvalidInputError
from agent_platform.schemas.supply_chain import CacheConfig, RegistryConfig
from agent_platform.supply_chain._http import HttpResult, request_json
from agent_platform.supply_chain.cache import RegistryCache
from agent_platform.supply_chain.model import (
    Ecosystem,
    LockedPackage,
    RegistryAnswer,
    ReleaseInfo,
)
from agent_platform.supply_chain.names import normalize_name

__all__ = ["RegistryClient"]

_ECOSYSTEMS = ("python", "node")


class RegistryClient:
    """Registry look-ups with a bounded pool and an optional positive-answer cache.

    Args:
        config: base URLs, timeout, concurrency and retries.
        cache_dir: where positive answers are cached; None disables the cache.
        cache_ttl_s: how long a cached answer stays valid.
        transport: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        config: RegistryConfig | None = None,
        *,
        cache_dir: Path | None = None,
        cache_ttl_s: float = 24 * 3600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config or RegistryConfig()
        limits = httpx.Limits(max_connections=self.config.max_concurrency)
        self._client = httpx.Client(
            timeout=self.config.timeout_s,
            limits=limits,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "agent-platform-verify/0.1"},
            follow_redirects=True,
        )
        self._caches: dict[str, RegistryCache] = {}
        if cache_dir is not None:
            self._caches = {
                "python": RegistryCache(cache_dir, cache_ttl_s, self.config.pypi_url),
                "node": RegistryCache(cache_dir, cache_ttl_s, self.config.npm_url),
            }

    @classmethod
    def from_config(
        cls,
        registries: RegistryConfig,
        cache: CacheConfig,
        root: Path,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> RegistryClient:
        """A client using the settings of ``configs/supply_chain.yaml``."""
        cache_dir = None
        if cache.enabled:
            path = Path(cache.dir)
            cache_dir = path if path.is_absolute() else root / path
        return cls(
            registries,
            cache_dir=cache_dir,
            cache_ttl_s=cache.ttl_hours * 3600.0,
            transport=transport,
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def exists(self, ecosystem: str, name: str) -> bool | None:
        """Whether the registry knows project ``name``: True, False (404), or None (no answer).

        None means the registry could not be asked (unreachable, timeout, 5xx): callers must
        treat it as "not verified", never as "exists".
        """
        eco = _ecosystem(ecosystem)
        canonical = normalize_name(eco, name)
        cache = self._caches.get(eco)
        if cache is not None and cache.project_known(eco, canonical):
            return True
        result = self._fetch(eco, canonical)
        if result.ok:
            if cache is not None:
                cache.put_project(eco, canonical)
            return True
        if result.status == 404:
            return False
        return None

    def release(self, package: LockedPackage) -> RegistryAnswer:
        """The registry's answer for one pinned package (cached when positive)."""
        eco = package.ecosystem
        name = normalize_name(eco, package.name)
        cache = self._caches.get(eco)
        if cache is not None and (cached := cache.get(eco, name, package.version)) is not None:
            return RegistryAnswer("found", cached, from_cache=True)
        result = self._fetch(eco, name)
        if result.status == 404:
            return RegistryAnswer("unknown_package", detail=f"{self._url(eco, name)} answered 404")
        if not result.ok:
            return RegistryAnswer("error", detail=result.error)
        answer = _interpret(eco, name, package.version, result.data)
        if answer.release is not None and cache is not None:
            cache.put(answer.release)
        return answer

    def releases(
        self, packages: Sequence[LockedPackage]
    ) -> dict[tuple[str, str, str], RegistryAnswer]:
        """Answers for many packages, at most ``max_concurrency`` requests at a time."""
        unique = list({p.key: p for p in packages}.values())
        workers = max(1, min(self.config.max_concurrency, len(unique)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry") as pool:
            answers = list(pool.map(self.release, unique))
        return {p.key: a for p, a in zip(unique, answers, strict=True)}

    def _url(self, ecosystem: Ecosystem, name: str) -> str:
        if ecosystem == "python":
            return f"{self.config.pypi_url.rstrip('/')}/pypi/{quote(name)}/json"
        return f"{self.config.npm_url.rstrip('/')}/{quote(name, safe='@')}"

    def _fetch(self, ecosystem: Ecosystem, name: str) -> HttpResult:
        result = request_json(
            self._client, "GET", self._url(ecosystem, name), retries=self.config.retries
        )
        if result.ok and not isinstance(result.data, Mapping):
            return HttpResult(
                None, error=f"{self._url(ecosystem, name)}: document is not an object"
            )
        return result


def _ecosystem(value: str) -> Ecosystem:
    if value == "python":
        return "python"
    if value == "node":
        return "node"
    raise InvalidInputError(f"ecosystem {value!r} is not supported; allowed: {list(_ECOSYSTEMS)}")


def _interpret(eco: Ecosystem, name: str, version: str, doc: Mapping[str, Any]) -> RegistryAnswer:
    try:
        release = (
            _pypi_release(name, version, doc)
            if eco == "python"
            else _npm_release(name, version, doc)
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return RegistryAnswer(
            "error", detail=f"registry document for {name} has an unexpected shape: {exc!r}"
        )
    if release is None:
        return RegistryAnswer(
            "unknown_version", detail=f"{name} has no release {version} on the registry"
        )
    return RegistryAnswer("found", release)


def _pypi_release(name: str, version: str, doc: Mapping[str, Any]) -> ReleaseInfo | None:
    releases: Mapping[str, Any] = doc["releases"]
    files = releases.get(version)
    if files is None:
        files = next((f for v, f in releases.items() if _pep440_equal(v, version)), None)
    if files is None:
        return None
    digests = frozenset(
        f"sha256:{f['digests']['sha256'].lower()}"
        for f in files
        if f.get("digests", {}).get("sha256")
    )
    times = [_parse_time(f.get("upload_time_iso_8601") or f.get("upload_time")) for f in files]
    known_times = [t for t in times if t is not None]
    yanked_files = [f for f in files if f.get("yanked")]
    return ReleaseInfo(
        ecosystem="python",
        name=name,
        version=version,
        digests=digests,
        upload_time=min(known_times) if known_times else None,
        yanked=bool(yanked_files),
        yanked_reason=str(yanked_files[0].get("yanked_reason") or "") if yanked_files else "",
    )


def _npm_release(name: str, version: str, doc: Mapping[str, Any]) -> ReleaseInfo | None:
    entry = (doc.get("versions") or {}).get(version)
    if entry is None:
        return None
    dist = entry.get("dist") or {}
    digests = set(str(dist.get("integrity", "")).split())
    if dist.get("shasum"):
        shasum = str(dist["shasum"]).lower()
        digests.add(f"sha1:{shasum}")
        digests.add("sha1-" + base64.b64encode(bytes.fromhex(shasum)).decode("ascii"))
    deprecated = entry.get("deprecated")
    return ReleaseInfo(
        ecosystem="node",
        name=name,
        version=version,
        digests=frozenset(d for d in digests if d),
        upload_time=_parse_time((doc.get("time") or {}).get(version)),
        deprecated=str(deprecated) if deprecated else "",
    )


def _pep440_equal(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
