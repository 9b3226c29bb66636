"""A private PostgreSQL server with password (SCRAM) authentication, for tests of auth failures.

The shared server trusts every connection from loopback, so a wrong password cannot fail
there. This starts a cluster of the test's own on a free port with ``scram-sha-256`` in its
``pg_hba.conf``. PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` system user (its folder lives under /tmp, which that user can reach).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent_platform._loopback import free_port
from tests.support.servers import wait_port

PASSWORD = "private-pg-s3cret"


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries not found; run scripts/ensure_services.sh")
    return Path(initdb).parent


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class PrivatePostgres:
    """A cluster on a free loopback port whose ``postgres`` role has :data:`PASSWORD`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ap-private-pg-"))
        self._user = "postgres" if os.geteuid() == 0 else None
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, password: str = PASSWORD, database: str = "postgres") -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        binaries = _bindir()
        if self._user is not None:
            owner = pwd.getpwnam(self._user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        secret = self.folder / "pw"
        secret.write_text(PASSWORD, encoding="utf-8")
        if self._user is not None:
            os.chown(secret, pwd.getpwnam(self._user).pw_uid, -1)
        data = self.folder / "data"
        initdb = [binaries / "initdb", "-D", data, "-U", "postgres", "-N", "-E", "UTF8"]
        subprocess.run(
            [*initdb, "--auth=scram-sha-256", f"--pwfile={secret}"],
            check=True,
            capture_output=True,
            user=self._user,
            timeout=120,
        )
        server = [binaries / "postgres", "-D", data, "-p", str(self.port), "-k", self.folder]
        self._proc = subprocess.Popen(
            [*server, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
        )
        wait_port(self.port, timeout=60)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
            self._proc = None
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()
