"""On-disk cache of positive registry answers, with an expiry.

Only answers that say "this release exists, with these digests" are stored. A 404, a timeout or
a 5xx is never written: caching a failure would turn yesterday's outage (or yesterday's absence
of a package that has since been published) into today's verdict. Entries expire after the
configured TTL because a release can be yanked after we saw it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_platform.canonical import sha256_hex
from agent_platform.supply_chain.model import ReleaseInfo

__all__ = ["RegistryCache"]

_FORMAT = 1


class RegistryCache:
    """Files under ``directory/<registry-hash>/<ecosystem>/<name>/<version>.json``.

    ``namespace`` (the registry base URL) keeps answers of different registries apart.
    """

    def __init__(self, directory: Path, ttl_seconds: float, namespace: str) -> None:
        self.directory = directory / sha256_hex(namespace.encode("utf-8"))[:16]
        self.ttl_seconds = ttl_seconds

    def _path(self, ecosystem: str, name: str, version: str) -> Path:
        safe_name = name.replace("/", "__")
        safe_version = version.replace("/", "_") or "_project"
        return self.directory / ecosystem / safe_name / f"{safe_version}.json"

    def get(self, ecosystem: str, name: str, version: str) -> ReleaseInfo | None:
        """The stored release, or None when absent, expired or unreadable."""
        data = self._read(self._path(ecosystem, name, version))
        if data is None or "release" not in data:
            return None
        return _release_from_json(data["release"])

    def project_known(self, ecosystem: str, name: str) -> bool:
        """Whether a fresh entry says the project exists."""
        return self._read(self._path(ecosystem, name, "")) is not None

    def put(self, release: ReleaseInfo) -> None:
        """Store a positive answer (atomically: a crash leaves the old file or none)."""
        payload = {
            "format": _FORMAT,
            "stored_at": time.time(),
            "release": _release_to_json(release),
        }
        self._write(self._path(release.ecosystem, release.name, release.version), payload)
        self.put_project(release.ecosystem, release.name)

    def put_project(self, ecosystem: str, name: str) -> None:
        """Record that the project exists on its registry."""
        self._write(self._path(ecosystem, name, ""), {"format": _FORMAT, "stored_at": time.time()})

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        stored = data.get("stored_at")
        if not isinstance(stored, int | float) or time.time() - stored > self.ttl_seconds:
            return None
        return data

    def _write(self, path: Path, payload: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _release_to_json(release: ReleaseInfo) -> dict[str, Any]:
    return {
        "ecosystem": release.ecosystem,
        "name": release.name,
        "version": release.version,
        "digests": sorted(release.digests),
        "upload_time": release.upload_time.isoformat() if release.upload_time else None,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason,
        "deprecated": release.deprecated,
    }


def _release_from_json(data: dict[str, Any]) -> ReleaseInfo | None:
    try:
        upload = data.get("upload_time")
        return ReleaseInfo(
            ecosystem=data["ecosystem"],
            name=data["name"],
            version=data["version"],
            digests=frozenset(data["digests"]),
            upload_time=dt.datetime.fromisoformat(upload) if upload else None,
            yanked=bool(data["yanked"]),
            yanked_reason=str(data.get("yanked_reason", "")),
            deprecated=str(data.get("deprecated", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None
