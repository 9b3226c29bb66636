"""Read pinned dependencies out of lockfiles: ``uv.lock``, ``requirements.lock``, npm's lockfile.

A lockfile that is not fully pinned cannot be verified (an unpinned name means "whatever the
registry serves tomorrow"), so anything ambiguous is a :class:`LockfileError` naming the line
(text formats) or the key (TOML/JSON formats) rather than a silent skip. Lines that change
where pip installs from (``--index-url``, ``--extra-index-url``, ``--find-links``,
``--trusted-host`` and the short ``-i``/``-f``) and a lockfile that pins nothing are not errors
of form but facts the policy must judge: they come back as :class:`LockfileIssue` values next to
the packages, each naming its line. Files are read through
:func:`agent_platform.inputs.read_text_bounded` (regular files only, size cap, UTF-8), and values
shown in errors are clipped.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from agent_platform.errors import LockfileError
from agent_platform.inputs import clip, read_text_bounded
from agent_platform.supply_chain.model import Ecosystem, LockedPackage
from agent_platform.supply_chain.names import normalize_pypi

__all__ = [
    "INDEX_OPTIONS",
    "LOCKFILE_LIMIT_BYTES",
    "LockfileIssue",
    "ParsedLockfile",
    "detect_format",
    "parse_lockfile",
    "parse_package_lock",
    "parse_requirements_lock",
    "parse_uv_lock",
    "read_lockfile",
]

LOCKFILE_LIMIT_BYTES = 64 * 1024 * 1024
"""The largest lockfile read (a big monorepo's package-lock.json runs to tens of MB)."""

INDEX_OPTIONS: dict[str, str] = {
    "--index-url": "--index-url",
    "-i": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--find-links": "--find-links",
    "-f": "--find-links",
    "--trusted-host": "--trusted-host",
}
"""Options that change where pip installs from, long and short spellings -> long."""

_HASH = re.compile(r"--hash[=\s]+([A-Za-z0-9]+):([A-Fa-f0-9]+)")
_SHORT_GLUED = re.compile(r"^(-[if])(\S+)$")


@dataclass(frozen=True)
class LockfileIssue:
    """Something about the lockfile as a whole that the policy judges.

    ``kind`` is ``index_override`` (``option`` and ``value`` say which) or ``empty_lockfile``;
    ``location`` is ``file:line`` (or the file alone), ``message`` the sentence for reports.
    """

    kind: str
    location: str
    message: str
    option: str = ""
    value: str = ""


@dataclass(frozen=True)
class ParsedLockfile:
    """The packages a lockfile pins and the issues found while reading it."""

    packages: tuple[LockedPackage, ...]
    issues: tuple[LockfileIssue, ...] = ()


def detect_format(path: Path) -> str:
    """``uv``, ``npm`` or ``requirements``, from the file name."""
    name = path.name.lower()
    if name == "uv.lock":
        return "uv"
    if name.endswith(".json"):
        return "npm"
    return "requirements"


def read_lockfile(
    path: Path, ecosystem: Ecosystem, *, limit_bytes: int = LOCKFILE_LIMIT_BYTES
) -> ParsedLockfile:
    """Read and parse ``path`` as a lockfile of ``ecosystem``.

    Raises:
        InputFileError: missing, not a regular file, over ``limit_bytes``, or not UTF-8.
        LockfileError: the content is malformed or not fully pinned (names line or key).
    """
    kind = detect_format(path)
    if ecosystem == "node" and kind != "npm":
        raise LockfileError(f"{path}: ecosystem node needs a package-lock.json (got {path.name})")
    if ecosystem == "python" and kind == "npm":
        raise LockfileError(f"{path}: ecosystem python needs uv.lock or requirements.lock")
    text = read_text_bounded(path, limit_bytes=limit_bytes, what="lockfile")
    if kind == "uv":
        parsed = _parse_uv(text, str(path))
    elif kind == "npm":
        parsed = _parse_npm(text, str(path))
    else:
        parsed = _parse_requirements(text, str(path))
    if parsed.packages:
        return parsed
    empty = LockfileIssue(
        "empty_lockfile",
        str(path),
        f"{path}: the lockfile pins no package, so there is nothing to verify",
    )
    return ParsedLockfile((), (*parsed.issues, empty))


def parse_lockfile(path: Path, ecosystem: Ecosystem) -> list[LockedPackage]:
    """The packages of ``path`` (see :func:`read_lockfile` for the issues beside them)."""
    return list(read_lockfile(path, ecosystem).packages)


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
    return list(_parse_requirements(text, origin).packages)


def _parse_requirements(text: str, origin: str) -> ParsedLockfile:
    packages: list[LockedPackage] = []
    issues: list[LockfileIssue] = []
    for number, line in _logical_lines(text):
        if not line:
            continue
        if line.startswith("-"):
            issues.append(_index_option(line, number, origin))
            continue
        packages.append(_requirement(line, number, origin))
    return ParsedLockfile(tuple(packages), tuple(issues))


def _index_option(line: str, number: int, origin: str) -> LockfileIssue:
    """An index-changing option line as an issue; any other option is an error."""
    first, _, rest = line.partition(" ")
    option, _, value = first.partition("=")
    glued = _SHORT_GLUED.match(first)
    if glued and glued.group(1) in INDEX_OPTIONS and not value:
        option, value = glued.group(1), glued.group(2)
    value = (value or rest).strip()
    name = INDEX_OPTIONS.get(option)
    if name is None:
        raise LockfileError(
            f"{origin}:{number}: option {clip(option)} is not allowed in a lockfile "
            "(only pinned requirements with --hash options)"
        )
    effect = {
        "--index-url": "replaces the package index pip installs from",
        "--extra-index-url": "adds a package index pip may install any package from",
        "--find-links": "lets pip install archives found at this location",
        "--trusted-host": "turns off TLS certificate checks for this host",
    }[name]
    return LockfileIssue(
        "index_override",
        f"{origin}:{number}",
        f"{origin}:{number}: {name} {clip(value, 120)} {effect}, so what pip installs is not "
        "necessarily what was verified against the registry (dependency confusion)",
        option=name,
        value=value,
    )


def _requirement(line: str, number: int, origin: str) -> LockedPackage:
    spec, _, _options = line.partition(" --")
    hashes = tuple(f"{algo.lower()}:{digest.lower()}" for algo, digest in _HASH.findall(line))
    try:
        req = Requirement(spec.strip())
    except InvalidRequirement as exc:
        raise LockfileError(
            f"{origin}:{number}: malformed requirement {clip(spec.strip())}: {clip(str(exc), 160)}"
        ) from exc
    specs = list(req.specifier)
    if (
        req.url
        or len(specs) != 1
        or specs[0].operator not in ("==", "===")
        or "*" in specs[0].version
    ):
        raise LockfileError(
            f"{origin}:{number}: {clip(req.name)} is not pinned to one version "
            f"(got {clip(str(req.specifier) or req.url or 'no version')}; need name==version)"
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
    """Every ``[[package]]`` of a uv lockfile except the project itself (the root at ``.``)."""
    return list(_parse_uv(text, origin).packages)


def _parse_uv(text: str, origin: str) -> ParsedLockfile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"{origin}: not valid TOML: {clip(str(exc), 160)}") from exc
    entries = data.get("package")
    if not isinstance(entries, list):
        raise LockfileError(f"{origin}: key 'package' missing or not an array of tables")
    packages: list[LockedPackage] = []
    for index, entry in enumerate(entries):
        parsed = _uv_entry(entry, f"{origin}: package[{index}]")
        if parsed is not None:
            packages.append(parsed)
    return ParsedLockfile(tuple(packages))


def _uv_entry(entry: Any, where: str) -> LockedPackage | None:
    """One package; None for the project itself (``editable``/``virtual`` at ``.``).

    Anything else not from a registry (git, path, directory, a direct URL, another editable or
    virtual member) is returned with ``source`` describing it, for the policy to judge.
    """
    if not isinstance(entry, dict):
        raise LockfileError(f"{where}: not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise LockfileError(f"{where}.name: missing or not a string")
    source = entry.get("source", {})
    if not isinstance(source, dict):
        raise LockfileError(f"{where}.source: not a table")
    if source.get("editable") == "." or source.get("virtual") == ".":
        return None
    from_registry = "registry" in source
    version = entry.get("version")
    if from_registry and (not isinstance(version, str) or not version):
        raise LockfileError(f"{where}.version: {clip(name)} has no pinned version")
    return LockedPackage(
        ecosystem="python",
        name=normalize_pypi(name),
        version=version if isinstance(version, str) and version else "unversioned",
        hashes=tuple(_uv_hashes(entry, where)),
        location=f"{where} ({clip(name)})",
        source="registry" if from_registry else _describe_source(source),
        index=str(source["registry"]) if from_registry else "",
    )


def _describe_source(source: dict[str, Any]) -> str:
    for key in ("git", "url", "path", "directory", "editable", "virtual"):
        if key in source:
            return f"{key} {_short(str(source[key]))}"
    return f"unrecognised source {clip(sorted(source))}"


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
            raise LockfileError(f"{where}: artifact hash {clip(digest)} is not 'algo:hex'")
        algo, _, hexdigest = digest.partition(":")
        yield f"{algo.lower()}:{hexdigest.lower()}"


# --- package-lock.json -------------------------------------------------------------------


def parse_package_lock(text: str, origin: str = "package-lock.json") -> list[LockedPackage]:
    """npm lockfile versions 2 and 3 (the ``packages`` map); version 1 is refused."""
    return list(_parse_npm(text, origin).packages)


def _parse_npm(text: str, origin: str) -> ParsedLockfile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(f"{origin}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise LockfileError(f"{origin}: top level is not a JSON object")
    version = data.get("lockfileVersion")
    if version not in (2, 3):
        raise LockfileError(
            f"{origin}: lockfileVersion {clip(version)} is not supported (need 2 or 3; "
            "regenerate version 1 files with npm 7 or newer)"
        )
    entries = data.get("packages")
    if not isinstance(entries, dict):
        raise LockfileError(f"{origin}: key 'packages' missing or not an object")
    seen: dict[tuple[str, str], LockedPackage] = {}
    for path, entry in entries.items():
        parsed = _npm_entry(path, entry, f"{origin}: packages[{clip(path)}]")
        if parsed is not None:
            seen.setdefault((parsed.name, parsed.version), parsed)
    return ParsedLockfile(tuple(seen.values()))


def _npm_entry(path: str, entry: Any, where: str) -> LockedPackage | None:
    if not isinstance(entry, dict):
        raise LockfileError(f"{where}: not an object")
    if path == "" or entry.get("link") is True or "node_modules/" not in path:
        return None
    name = entry.get("name") or path.rsplit("node_modules/", 1)[1]
    version = entry.get("version")
    if not isinstance(version, str) or not version:
        raise LockfileError(f"{where}.version: {clip(name)} has no pinned version")
    resolved = entry.get("resolved", "")
    if not isinstance(resolved, str):
        raise LockfileError(f"{where}.resolved: not a string")
    integrity = entry.get("integrity", "")
    if not isinstance(integrity, str):
        raise LockfileError(f"{where}.integrity: not a string")
    source = "registry"
    if resolved and not _registry_tarball(resolved):
        source = f"resolved {_short(resolved)}"
    return LockedPackage(
        ecosystem="node",
        name=str(name),
        version=version,
        hashes=tuple(integrity.split()),
        location=where,
        source=source,
    )


def _short(text: str, limit: int = 160) -> str:
    """Plain text cut to ``limit`` characters (a source URL in a report row)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _registry_tarball(resolved: str) -> bool:
    """Whether ``resolved`` is a registry tarball URL (``.../NAME/-/NAME-VERSION.tgz``).

    Git, file and plain URL dependencies (a GitHub tarball, say) are not what the registry
    serves under that name and version, so they cannot be verified against it.
    """
    return resolved.startswith(("http://", "https://")) and "/-/" in resolved
