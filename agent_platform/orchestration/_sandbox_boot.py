"""Bootstrap of the QA sandbox: isolate, limit, drop privileges, then exec pytest.

Run by :mod:`agent_platform.orchestration.sandbox` as a *script* (``python -I this_file.py
CONFIG STATUS_FD``) so that it imports only the standard library, and so that the isolation
happens in the child before ``execve`` instead of in a ``preexec_fn`` (unsafe in a threaded
parent).

Steps, each reported as one JSON line on ``STATUS_FD`` (``ok`` or the reason it failed). That
descriptor is the write end of a pipe the parent reads; it is close-on-exec, so pytest and the
generated code it imports never hold it and cannot rewrite the report:

* network: a new network namespace (no interfaces but a down loopback). As root,
  ``unshare(CLONE_NEWNET | CLONE_NEWNS)``; otherwise a new user namespace too, mapping our own
  uid, which the kernel allows to unprivileged users where user namespaces are enabled.
* privileges (root only): the kernel exempts uid 0 from RLIMIT_NPROC, so the child drops to an
  unprivileged uid. When what the interpreter needs (its base prefix, the virtualenv and every
  ``sys.path`` directory, e.g. a checkout under ``/root``) lies under a directory that uid cannot
  traverse, that directory is covered with an empty tmpfs in the private mount namespace and only
  those paths are bind-mounted back, read-only, which also hides the rest of it.
* limits: RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE=0.
* exec: when pytest cannot be started, the reason is recorded as ``exec`` and the exit status is
  127, so the result says why instead of showing a bare traceback.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import stat
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _isolate_network(libc: Any, is_root: bool) -> None:
    if is_root:
        _check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare(NEWNET|NEWNS)")
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        return
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare(NEWUSER|NEWNET)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _closed_ancestor(path: str) -> str | None:
    """The outermost ancestor of ``path`` that others may not traverse, if any."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = ""
    for part in parts:
        current = f"{current}/{part}"
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current
    return None


def _needed_paths() -> list[str]:
    """The outermost directories the interpreter reads: prefixes and ``sys.path`` entries."""
    wanted = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    wanted.add(os.path.dirname(os.path.realpath(sys.executable)))
    wanted.update(os.path.realpath(p) for p in sys.path if p and os.path.isdir(p))
    ordered = sorted(wanted)
    return [p for p in ordered if not any(p.startswith(q + os.sep) for q in ordered if q != p)]


def _hidden_paths() -> list[str]:
    """Needed paths an unprivileged uid could not reach."""
    return [p for p in _needed_paths() if _closed_ancestor(p) is not None]


def _expose_interpreter(libc: Any, stage_root: str) -> str:
    paths = _hidden_paths()
    if not paths:
        return "interpreter already readable"
    stages = []
    for index, path in enumerate(paths):
        stage = os.path.join(stage_root, str(index))
        os.makedirs(stage, exist_ok=True)
        _check(libc.mount(path.encode(), stage.encode(), None, MS_BIND | MS_REC, None), "bind")
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        _check(libc.mount(None, stage.encode(), None, flags, None), "remount read-only")
        stages.append(stage)
    closed = sorted({str(_closed_ancestor(p)) for p in paths})
    for directory in closed:
        options = b"mode=0755,size=1m"
        _check(libc.mount(b"tmpfs", directory.encode(), b"tmpfs", 0, options), "tmpfs")
    for path, stage in zip(paths, stages, strict=True):
        os.makedirs(path, exist_ok=True)
        _check(libc.mount(stage.encode(), path.encode(), None, MS_MOVE, None), "move")
    return (
        f"covered {', '.join(closed)} with tmpfs, exposed {', '.join(paths)} read-only "
        "to the sandbox uid"
    )


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _set_limits(config: dict[str, Any]) -> None:
    mb = 1024 * 1024
    limits = {
        resource.RLIMIT_CPU: int(config["cpu_s"]),
        resource.RLIMIT_AS: int(config["memory_mb"]) * mb,
        resource.RLIMIT_NPROC: int(config["max_processes"]),
        resource.RLIMIT_FSIZE: int(config["max_file_mb"]) * mb,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        _soft, hard = resource.getrlimit(which)
        bounded = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # CPU: the soft limit delivers SIGXCPU (reported as such), the hard one SIGKILL.
        ceiling = bounded + 2 if which == resource.RLIMIT_CPU else bounded
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        resource.setrlimit(which, (bounded, ceiling))


def _root_steps(libc: Any, config: dict[str, Any], control: str, status: dict[str, str]) -> None:
    readable = not _hidden_paths()
    if status["network"] == "ok":
        try:
            status["filesystem"] = _expose_interpreter(libc, os.path.join(control, "stage"))
            readable = True
        except OSError as exc:
            status["filesystem"] = f"failed: {exc}"
    if not readable:
        status["privileges"] = (
            "still root (the interpreter is not readable by an unprivileged uid): "
            "RLIMIT_NPROC is not enforced for uid 0"
        )
        return
    try:
        _drop_privileges(int(config["uid"]))
        status["privileges"] = f"ok: running as uid {config['uid']}"
    except OSError as exc:
        status["privileges"] = f"still root ({exc}): RLIMIT_NPROC is not enforced for uid 0"


def _report(status_fd: int, status: dict[str, str]) -> None:
    os.write(status_fd, (json.dumps(status) + "\n").encode("utf-8"))


def main(config_path: str, status_fd: int) -> None:
    os.set_inheritable(status_fd, False)
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    control = os.path.dirname(config_path)
    libc = _libc()
    is_root = os.geteuid() == 0
    status: dict[str, str] = {}
    try:
        _isolate_network(libc, is_root)
        status["network"] = "ok"
    except OSError as exc:
        status["network"] = f"not isolated: {exc}"
    if is_root:
        _root_steps(libc, config, control, status)
    else:
        status["privileges"] = f"ok: running as uid {os.geteuid()}"
    _set_limits(config)
    status["limits"] = "ok"
    _report(status_fd, status)
    try:
        os.chdir(config["workspace"])
        os.execve(sys.executable, config["argv"], config["env"])
    except OSError as exc:
        status["exec"] = f"failed: cannot start pytest with {sys.executable}: {exc}"
        _report(status_fd, status)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
