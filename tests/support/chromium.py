"""Headless Chromium for tests: installed by scripts/ensure_chromium.sh, run on file:// pages.

Why it exists: the report test (and any later page test) needs a real browser. The set-up
script installs Debian's ``chromium`` when it is missing, as ensure_services.sh does for the
databases; only when it reports that installing is impossible here (exit 3) does a test skip,
with the script's own reason.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from agent_platform.config import project_root

__all__ = ["chromium", "dump_dom"]

CANNOT_INSTALL = 3


def chromium() -> str:
    """The chromium executable, installing it if needed; skips only when it cannot be."""
    script = project_root() / "scripts" / "ensure_chromium.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode == CANNOT_INSTALL:
        pytest.skip(f"headless chromium unavailable: {done.stderr.strip()}")
    assert done.returncode == 0, f"ensure_chromium.sh failed: {done.stderr.strip()}"
    found = shutil.which("chromium")
    assert found, "ensure_chromium.sh succeeded but chromium is not on PATH"
    return found


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its load event (and its scripts), as headless Chromium sees it."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"chromium exit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout
