"""File, hashing and provenance helpers shared by the gate, the assets and the validator.

Every evidence file is written atomically (a temporary file renamed into place), so a crashed
run never leaves a half-written CSV that a later gate could mistake for a measurement. The
provenance helpers (git commit, machine) are what the gate JSON records about the run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from agent_platform import fileio
from agent_platform.canonical import sha256_hex
from agent_platform.errors import EvidenceError

__all__ = [
    "GENERATED_PATHS",
    "UNKNOWN_COMMIT",
    "count_lines",
    "dirty_paths",
    "git_commit",
    "git_dirty",
    "machine_info",
    "sha256_file",
    "utc_now_iso",
    "write_text_atomic",
]

UNKNOWN_COMMIT = "unknown"


def utc_now_iso() -> str:
    """The current UTC time in ISO 8601 with a ``Z`` suffix and microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_file(path: Path) -> str:
    """SHA-256 of the file's bytes; a missing file is an :class:`EvidenceError`."""
    try:
        return sha256_hex(path.read_bytes())
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read evidence file for hashing: {exc}") from exc


def count_lines(path: Path) -> int:
    """Number of lines in a text file (a final line without newline counts)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read file to count lines: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{path}: not UTF-8 text: {exc}") from exc
    return len(text.splitlines())


def write_text_atomic(path: Path, text: str) -> None:
    """Write an evidence file atomically, world-readable for whoever audits it."""
    try:
        fileio.write_text_atomic(path, text)
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot write evidence file: {exc}") from exc


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout


def git_commit(root: Path) -> str:
    """``git rev-parse HEAD`` of the checkout at ``root``, or ``"unknown"``."""
    output = _git(root, "rev-parse", "HEAD")
    commit = output.strip() if output is not None else None
    if commit is None or len(commit) != 40:
        return UNKNOWN_COMMIT
    return commit


GENERATED_PATHS: tuple[str, ...] = (
    "evidence/",
    "metrics/",
    "notifications/",
    ".data/",
    "docs/architecture/phase1_architecture.md",
)
"""Paths a gate run writes (or, for the document, ``gate --update-doc`` refreshes): not dirt.

The document's performance block is checked on its own by the validator, so the document is
left out of the dirty check whole rather than diffed around its marked block."""


def dirty_paths(root: Path, generated: tuple[str, ...] = GENERATED_PATHS) -> list[str] | None:
    """Changed, staged or untracked (not ignored) files outside ``generated``.

    None when ``root`` is not a git checkout. Untracked files count: a module that exists only
    in the working tree is not part of the commit the gate names.
    """
    status = _git(root, "status", "--porcelain", "--untracked-files=all")
    if status is None:
        return None
    changed: list[str] = []
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not any(path == g or path.startswith(g) for g in generated):
            changed.append(path)
    return changed


def git_dirty(root: Path) -> bool | None:
    """Whether the checkout differs from HEAD outside the generated paths (untracked counts).

    None when ``root`` is not a checkout.
    """
    changed = dirty_paths(root)
    return None if changed is None else bool(changed)


def machine_info() -> dict[str, object]:
    """Platform, CPU count and Python version of the machine running the workloads."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count() or 0,
        "python": sys.version.split()[0],
    }
