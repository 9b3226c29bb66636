"""Atomic file writes: the one way reports, CSVs and snapshots reach the disk.

A reader (an auditor, the contract validator, a second process) must see either the old file
or the new one, never half of one, so text goes to a temporary sibling and is renamed over
the target. Errors stay ``OSError``; each caller translates them at its own boundary.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` through a temporary sibling.

    ``mode`` defaults to ordinary 0644 because what we write is for others to read;
    ``mkstemp`` alone would leave it owner-only 0600. The temporary file never outlives a
    failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
