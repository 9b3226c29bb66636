"""A gate run writes into a staging folder; only a complete run replaces the evidence.

Before this, ``agent-platform gate`` deleted the last gate JSON first and the workloads wrote
straight into ``evidence/``, ``metrics/`` and ``notifications/``: a wrong password or a Ctrl-C
left a FAIL gate or half-written CSVs where the last good evidence had been. Now every run
writes under ``<root>/.data/staging/<run_id>/`` (the job's evidence root), and
:func:`promote` swaps each top-level tree of that folder into ``<root>`` when the run
completed. A failed or interrupted run never reaches :func:`promote`: the previous evidence
stays byte for byte, and the partial files stay in the staging folder for a look.

The swap of one tree is one ``renameat2(RENAME_EXCHANGE)`` on Linux: a reader sees either
the whole old tree or the whole new one, never a mix and never nothing. Where that call is
missing (another OS, an old C library, a file system without it) two renames are used, and
a tree is absent only between them. Trees are swapped one after another, so a crash
between two trees leaves each tree whole (old or new); the gate JSON names its run id, so
the validator tells a mixed set apart.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

from agent_platform.errors import EvidenceError

__all__ = ["KEEP_FAILED", "STAGING_DIR", "exchange", "promote", "prune", "staging_folder"]

STAGING_DIR = ".data/staging"
KEEP_FAILED = 3
"""How many staging folders of failed or interrupted runs are kept for inspection."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def staging_folder(root: Path, run_id: str) -> Path:
    """Where run ``run_id`` writes its evidence (on ``root``'s file system, so renames work)."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise EvidenceError(f"run id {run_id!r} cannot name a staging folder")
    return root / STAGING_DIR / run_id


def prune(root: Path, keep: int = KEEP_FAILED) -> list[Path]:
    """Remove all but the ``keep`` newest staging folders; returns the ones removed."""
    base = root / STAGING_DIR
    if not base.is_dir():
        return []
    folders = sorted(
        (p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    removed = folders[keep:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def _renameat2() -> object | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return getattr(libc, "renameat2", None)


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step; False when the system cannot do that."""
    call = _renameat2()
    if call is None:
        return False
    result = call(  # type: ignore[operator]
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise EvidenceError(f"swapping {first} and {second} failed: {os.strerror(code)}")


def _swap_tree(staged: Path, target: Path, retired: Path) -> None:
    """Put ``staged`` at ``target``; whatever was at ``target`` ends at ``retired``."""
    if not target.exists():
        os.rename(staged, target)
        return
    if exchange(staged, target):
        os.rename(staged, retired)  # ``staged`` now holds the old tree
        return
    os.rename(target, retired)
    os.rename(staged, target)


def promote(staging: Path, root: Path) -> list[str]:
    """Swap every top-level folder of ``staging`` into ``root``; returns their names.

    The replaced trees are deleted afterwards, then the staging folder itself.
    """
    trees = sorted(p.name for p in staging.iterdir() if p.is_dir())
    if not trees:
        raise EvidenceError(f"{staging}: the run wrote no evidence folder; nothing to promote")
    retired = staging / ".replaced"
    retired.mkdir()
    for name in trees:
        _swap_tree(staging / name, root / name, retired / name)
    shutil.rmtree(staging)
    return trees
