"""Read pinned dependencies out of lockfiles: ``uv.lock``, ``requirements.lock``, npm's lockfile.

A lockfile that is not fully pinned cannot be verified (an unpinned name means "whatever the
registry serves tomorrow"), so anything ambiguous is a :class:`LockfileError` naming the line
(text formats) or the key (TOML/JSON formats) rather than a silent skip.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from agent_platform.errors import LockfileError
from agent_platform.supply_chain.model import Ecosystem, LockedPackage
from agent_platform.supply_chain.names import normalize_pypi

__all__ = [
    "detect_format",
    "parse_lockfile",
    "parse_package_lock",
    "parse_requirements_lock",
    "parse_uv_lock",
]

_GLOBAL_OPTIONS = ("--index-url", "--extra-index-url", "--trusted-host", "--find-links", "-i ")
_HASH = re.compile(r"--hash[=\s]+([A-Za-z0-9]+):([A-Fa-f0-9]+)")


def detect_format(path: Path) -> str:
    """``uv``, ``npm`` or ``requirements``, from the file name."""
    name = path.name.lower()
    if name == "uv.lock":
        return "uv"
    if name.endswith(".json"):
        return "npm"
    return "requirements"


def parse_lockfile(path: Path, ecosystem: Ecosystem) -> list[LockedPackage]:
    """Parse ``path`` as a lockfile of ``ecosystem``; raises :class:`LockfileError`."""
    kind = detect_format(path)
    if ecosystem == "node" and kind != "npm":
        raise LockfileError(f"{path}: ecosystem node needs a package-lock.json (got {path.name})")
    if ecosystem == "python" and kind == "npm":
        raise LockfileError(f"{path}: ecosystem python needs uv.lock or requirements.lock")
    text = _read(path)
    if kind == "uv":
        return parse_uv_lock(text, str(path))
    if kind == "npm":
        return parse_package_lock(text, str(path))
    return parse_requirements_lock(text, str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LockfileError(f"{path}: lockfile not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read lockfile: {exc}") from exc


# --- requirements.lock -------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join ``\\`` continuations; yield (first physical line number, joined text)."""
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw if not raw.lstrip().startswith("#") else ""
        line = re.sub(r"(^|\s)#.*$", "", line)
        if not parts:
            start = number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        yield start, " ".join(p.strip() for p in parts).strip()
        parts = []
    if parts:
        yield start, " ".join(p.strip() for p in parts).strip()


def parse_requirements_lock(text: str, origin: str = "requirements.lock") -> list[LockedPackage]:
    """Pinned ``name==version`` lines with optional ``--hash`` options and markers."""
    packages: list[LockedPackage] = []
    for number, line in _logical_lines(text):
        if not line or line.startswith(_GLOBAL_OPTIONS):
            continue
        if line.startswith("-"):
            raise LockfileError(
                f"{origin}:{number}: option {line.split()[0]!r} is not allowed in a lockfile "
                "(only pinned requirements with --hash options)"
            )
        packages.append(_requirement(line, number, origin))
    return packages


def _requirement(line: str, number: int, origin: str) -> LockedPackage:
    spec, _, _options = line.partition(" --")
    hashes = tuple(f"{algo.lower()}:{digest.lower()}" for algo, digest in _HASH.findall(line))
    try:
        req = Requirement(spec.strip())
    except InvalidRequirement as exc:
        raise LockfileError(
            f"{origin}:{number}: malformed requirement {spec.strip()!r}: {exc}"
        ) from exc
    specs = list(req.specifier)
    if (
        req.url
        or len(specs) != 1
        or specs[0].operator not in ("==", "===")
        or "*" in specs[0].version
    ):
        raise LockfileError(
            f"{origin}:{number}: {req.name!r} is not pinned to one version "
            f"(got {str(req.specifier) or req.url or 'no version'!r}; need name==version)"
        )
    return LockedPackage(
        ecosystem="python",
        name=normalize_pypi(req.name),
        version=specs[0].version,
        hashes=hashes,
        marker=str(req.marker) if req.marker else "",
        location=f"{origin}:{number}",
    )


# --- uv.lock -----------------------------------------------------------------------------


def parse_uv_lock(text: str, origin: str = "uv.lock") -> list[LockedPackage]:
    """Every ``[[package]]`` of a uv lockfile except the project itself (editable/virtual)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"{origin}: not valid TOML: {exc}") from exc
    entries = data.get("package")
    if not isinstance(entries, list):
        raise LockfileError(f"{origin}: key 'package' missing or not an array of tables")
    packages: list[LockedPackage] = []
    for index, entry in enumerate(entries):
        parsed = _uv_entry(entry, f"{origin}: package[{index}]")
        if parsed is not None:
            packages.append(parsed)
    return packages


def _uv_entry(entry: Any, where: str) -> LockedPackage | None:
    if not isinstance(entry, dict):
        raise LockfileError(f"{where}: not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise LockfileError(f"{where}.name: missing or not a string")
    source = entry.get("source", {})
    if not isinstance(source, dict):
        raise LockfileError(f"{where}.source: not a table")
    if "editable" in source or "virtual" in source:
        return None
    version = entry.get("version")
    if not isinstance(version, str) or not version:
        raise LockfileError(f"{where}.version: {name!r} has no pinned version")
    kind = "registry" if "registry" in source else _describe_source(source)
    return LockedPackage(
        ecosystem="python",
        name=normalize_pypi(name),
        version=version,
        hashes=tuple(_uv_hashes(entry, where)),
        location=f"{where} ({name})",
        source=kind,
    )


def _describe_source(source: dict[str, Any]) -> str:
    for key in ("git", "url", "path", "directory"):
        if key in source:
            return f"{key} {source[key]}"
    return f"unrecognised source {sorted(source)}"


def _uv_hashes(entry: dict[str, Any], where: str) -> Iterator[str]:
    artifacts: list[Any] = []
    if isinstance(entry.get("sdist"), dict):
        artifacts.append(entry["sdist"])
    wheels = entry.get("wheels", [])
    if not isinstance(wheels, list):
        raise LockfileError(f"{where}.wheels: not an array")
    artifacts.extend(wheels)
    for artifact in artifacts:
        digest = artifact.get("hash") if isinstance(artifact, dict) else None
        if digest is None:
            continue
        if not isinstance(digest, str) or ":" not in digest:
            raise LockfileError(f"{where}: artifact hash {digest!r} is not 'algo:hex'")
        algo, _, hexdigest = digest.partition(":")
        yield f"{algo.lower()}:{hexdigest.lower()}"


# --- package-lock.json -------------------------------------------------------------------


def parse_package_lock(text: str, origin: str = "package-lock.json") -> list[LockedPackage]:
    """npm lockfile versions 2 and 3 (the ``packages`` map); version 1 is refused."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(f"{origin}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise LockfileError(f"{origin}: top level is not a JSON object")
    version = data.get("lockfileVersion")
    if version not in (2, 3):
        raise LockfileError(
            f"{origin}: lockfileVersion {version!r} is not supported (need 2 or 3; "
            "regenerate version 1 files with npm 7 or newer)"
        )
    entries = data.get("packages")
    if not isinstance(entries, dict):
        raise LockfileError(f"{origin}: key 'packages' missing or not an object")
    seen: dict[tuple[str, str], LockedPackage] = {}
    for path, entry in entries.items():
        parsed = _npm_entry(path, entry, f"{origin}: packages[{path!r}]")
        if parsed is not None:
            seen.setdefault((parsed.name, parsed.version), parsed)
    return list(seen.values())


def _npm_entry(path: str, entry: Any, where: str) -> LockedPackage | None:
    if not isinstance(entry, dict):
        raise LockfileError(f"{where}: not an object")
    if path == "" or entry.get("link") is True or "node_modules/" not in path:
        return None
    name = entry.get("name") or path.rsplit("node_modules/", 1)[1]
    version = entry.get("version")
    if not isinstance(version, str) or not version:
        raise LockfileError(f"{where}.version: {name!r} has no pinned version")
    resolved = entry.get("resolved", "")
    if not isinstance(resolved, str):
        raise LockfileError(f"{where}.resolved: not a string")
    integrity = entry.get("integrity", "")
    if not isinstance(integrity, str):
        raise LockfileError(f"{where}.integrity: not a string")
    source = "registry"
    if resolved and not _registry_tarball(resolved):
        source = f"resolved {resolved}"
    return LockedPackage(
        ecosystem="node",
        name=str(name),
        version=version,
        hashes=tuple(integrity.split()),
        location=where,
        source=source,
    )


def _registry_tarball(resolved: str) -> bool:
    """Whether ``resolved`` is a registry tarball URL (``.../NAME/-/NAME-VERSION.tgz``).

    Git, file and plain URL dependencies (a GitHub tarball, say) are not what the registry
    serves under that name and version, so they cannot be verified against it.
    """
    return resolved.startswith(("http://", "https://")) and "/-/" in resolved
