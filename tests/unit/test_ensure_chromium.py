"""ensure_chromium.sh: exit 3 with its reason only when chromium is missing and uninstallable."""

import shutil
import subprocess
from pathlib import Path

from agent_platform.config import project_root

SCRIPT = project_root() / "scripts" / "ensure_chromium.sh"


def _bin(tmp_path: Path, *tools: str) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "id", *tools):
        found = shutil.which(tool)
        assert found, tool
        (folder / tool).symlink_to(found)
    return folder


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)],
        env={"PATH": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_chromium_and_without_apt_it_exits_3_saying_why(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path))
    assert done.returncode == 3
    assert "apt-get is not available" in done.stderr


def test_an_installed_chromium_is_used_as_is(tmp_path: Path) -> None:
    folder = _bin(tmp_path)
    fake = folder / "chromium"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    done = _run(folder)
    assert done.returncode == 0 and str(fake) in done.stdout
