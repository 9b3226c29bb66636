"""The QA sandbox: run generated tests with pytest in an isolated, resource-limited subprocess.

Each run gets a fresh temporary workspace holding only the generated files, a scrubbed
environment (minimal PATH, HOME inside the workspace, no provider keys or other secrets), a
wall-clock timeout enforced here and CPU, memory, process-count and file-size limits plus
network isolation applied in the child by :mod:`_sandbox_boot` before it execs pytest. The
verdict comes from pytest's own JUnit XML report; the exit status only explains a run that
produced no report (killed by a limit or the timeout).

What the generated code can and cannot forge:

* The bootstrap reports the isolation it achieved through a pipe this process holds, closed
  (close-on-exec) before pytest starts, so the generated code has nothing to rewrite.
* As root, the control directory (config) and the report directory are root-owned and not
  writable by the sandbox uid; only the JUnit file itself, created here, is handed to that uid.
* The generated code runs inside the pytest process, so it can still write the JUnit file. The
  report is therefore cross-checked against pytest's exit status and its terminal summary line;
  a mismatch is reported as tampering and the QA result fails. Code inside pytest can in the
  end make pytest report what it likes (hooks, ``os._exit``): the sandbox contains generated
  tests, it does not certify adversarial ones.
* This process marks itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``, Linux) before the
  first run, so a sandbox running under our own uid (no root) cannot read
  ``/proc/<our pid>/environ`` (provider keys) or reopen our descriptors through ``/proc``. The
  flag is process-wide and one-way: it also disables core dumps and same-uid ``ptrace`` of
  this process. Other processes of the same uid (e.g. the shell that started us) are not
  covered; run the platform as root (sandbox uid separation) or as a dedicated user.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from agent_platform.errors import SandboxError
from agent_platform.orchestration.code_checks import check_file_path
from agent_platform.orchestration.types import QAResult
from agent_platform.schemas.policy import SandboxLimits

__all__ = ["PytestSandbox", "make_non_dumpable", "sandbox_environment"]

_BOOT = Path(__file__).with_name("_sandbox_boot.py")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_TIMING = re.compile(r" in \d+(?:\.\d+)?s(?: \(\d+:\d+:\d+\))?")
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran) in <time>\s*=*$", re.MULTILINE)
_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def sandbox_environment(workspace: Path) -> dict[str, str]:
    """The whole environment the sandboxed process sees (nothing inherited)."""
    return {
        "PATH": _SAFE_PATH,
        "HOME": str(workspace),
        "TMPDIR": str(workspace / ".tmp"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "NO_COLOR": "1",
    }


@dataclass(frozen=True)
class _Outcome:
    returncode: int | None
    output: str
    timed_out: bool
    duration_ms: float


class PytestSandbox:
    """Runs ``python -m pytest`` on a set of generated files under :class:`SandboxLimits`."""

    def __init__(self, limits: SandboxLimits, python: str | None = None) -> None:
        self.limits = limits
        self.python = python or sys.executable

    def run(self, files: dict[str, str]) -> QAResult:
        """Write ``files`` into a fresh workspace, run pytest there and report what it said.

        Raises:
            SandboxError: a file path escapes the workspace, or the subprocess cannot start.
        """
        make_non_dumpable()
        with tempfile.TemporaryDirectory(prefix="ap-sandbox-") as root:
            workspace, control = Path(root, "ws"), Path(root, "ctl")
            report = Path(root, "report", "junit.xml")
            self._prepare(workspace, control, report, files)
            raw, isolation = self._execute(workspace, control)
            outcome = _normalized(raw, root)
            return _result(outcome, report, isolation, self.limits)

    def _prepare(self, workspace: Path, control: Path, report: Path, files: dict[str, str]) -> None:
        for directory in (workspace, workspace / ".tmp", control, report.parent):
            directory.mkdir(parents=True)
        for name, content in files.items():
            finding = check_file_path(name)
            if finding is not None:
                raise SandboxError(f"refusing to write {name!r}: {finding.detail}")
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        argv = [
            self.python,
            "-I",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={workspace}",
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit2",
            "-o",
            f"pythonpath={workspace}",
            str(workspace),
        ]
        config = {
            "workspace": str(workspace),
            "argv": argv,
            "env": sandbox_environment(workspace),
            "uid": self.limits.unprivileged_uid,
            "cpu_s": self.limits.cpu_s,
            "memory_mb": self.limits.memory_mb,
            "max_processes": self.limits.max_processes,
            "max_file_mb": self.limits.max_file_mb,
        }
        (control / "config.json").write_text(json.dumps(config), encoding="utf-8")
        report.write_bytes(b"")
        if os.geteuid() == 0:
            _hand_over(workspace, control, report, self.limits.unprivileged_uid)

    def _execute(self, workspace: Path, control: Path) -> tuple[_Outcome, dict[str, str]]:
        status_read, status_write = os.pipe()
        try:
            command = [
                self.python,
                "-I",
                str(_BOOT),
                str(control / "config.json"),
                str(status_write),
            ]
            outcome = self._spawn(command, workspace, status_write)
        finally:
            os.close(status_write)
            isolation = _read_isolation(status_read)
        return outcome, isolation

    def _spawn(self, command: list[str], workspace: Path, status_fd: int) -> _Outcome:
        started = time.perf_counter()
        try:
            process = subprocess.Popen(
                command,
                cwd=workspace,
                env=sandbox_environment(workspace),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(status_fd,),
            )
        except OSError as exc:
            raise SandboxError(
                f"cannot start the sandbox interpreter {self.python}: {exc}"
            ) from exc
        timed_out = False
        try:
            raw, _ = process.communicate(timeout=self.limits.wall_timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            raw, _ = process.communicate()
        text = raw.decode("utf-8", errors="replace")[-self.limits.max_output_chars :]
        elapsed = (time.perf_counter() - started) * 1000.0
        return _Outcome(process.returncode, text, timed_out, elapsed)


def _normalized(outcome: _Outcome, root: str) -> _Outcome:
    """Drop what differs between two runs of the same tests (temp paths, timings)."""
    text = outcome.output.replace(root + "/ws", "<workspace>").replace(root, "<sandbox>")
    text = _TIMING.sub(" in <time>", text)
    return _Outcome(outcome.returncode, text, outcome.timed_out, outcome.duration_ms)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def make_non_dumpable() -> bool:
    """Mark this process non-dumpable (Linux ``prctl(PR_SET_DUMPABLE, 0)``); True if it is.

    Afterwards a process of the same uid (a sandbox run without root) can no longer read
    ``/proc/<our pid>/environ`` or open our descriptors through ``/proc``. Process-wide and
    one-way; also disables core dumps of this process. False where prctl is unavailable.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise SandboxError(f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(errno)}")
    return bool(libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)


def _hand_over(workspace: Path, control: Path, report: Path, uid: int) -> None:
    """Give the sandbox uid the workspace and the JUnit file, nothing else it could rewrite."""
    os.chmod(workspace.parent, 0o711)
    os.chmod(control, 0o700)
    os.chmod(report.parent, 0o755)
    os.chown(workspace, uid, uid)
    for path in workspace.rglob("*"):
        os.chown(path, uid, uid, follow_symlinks=False)
    os.chown(report, uid, uid)


def _read_isolation(fd: int) -> dict[str, str]:
    """What the bootstrap wrote to its status pipe: one JSON object a line, later lines win."""
    try:
        os.set_blocking(fd, False)
        text = _drain(fd).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
    status: dict[str, str] = {}
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            status.update({str(k): str(v) for k, v in data.items()})
    return status or {"network": "unknown: the sandbox bootstrap did not report"}


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:  # a writer is still open: take what was written so far
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _result(
    outcome: _Outcome, report: Path, isolation: dict[str, str], limits: SandboxLimits
) -> QAResult:
    counts, failures = _parse_junit(report)
    limit_hit = _limit_hit(outcome, failures, limits)
    if counts is None:
        failures = [_no_report(outcome, isolation, limit_hit)]
    tests_run, failed, errors, skipped = counts or (0, 0, 0, 0)
    passed = max(tests_run - failed - errors - skipped, 0)
    ok = counts is not None and tests_run > 0 and failed == 0 and errors == 0
    if counts is not None:
        tampering = _tampering(outcome, passed, failed, errors)
        isolation = {
            **isolation,
            "report": tampering or "ok: matches pytest's exit status and summary",
        }
        if tampering is not None:
            ok = False
            failures = [f"sandbox report tampering: {tampering}", *failures]
    return QAResult(
        tests_run=tests_run,
        passed=passed,
        failed=failed,
        errors=errors,
        skipped=skipped,
        ok=ok and not outcome.timed_out,
        failures=failures,
        output=outcome.output,
        exit_code=outcome.returncode,
        timed_out=outcome.timed_out,
        limit_hit=limit_hit,
        network_isolated=isolation.get("network") == "ok",
        isolation=isolation,
        duration_ms=round(outcome.duration_ms, 3),
    )


def _parse_junit(report: Path) -> tuple[tuple[int, int, int, int] | None, list[str]]:
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return None, []
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = [0, 0, 0, 0]
    for suite in suites:
        for index, key in enumerate(("tests", "failures", "errors", "skipped")):
            totals[index] += int(suite.get(key, "0"))
    failures = []
    for case in root.iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                failures.append(f"{name}: {child.get('message', child.tag)}"[:500])
    return (totals[0], totals[1], totals[2], totals[3]), failures


def _summary_counts(output: str) -> dict[str, int] | None:
    """Counts from pytest's last terminal summary line (``1 failed, 2 passed in <time>``)."""
    found = _SUMMARY.findall(output)
    if not found:
        return None
    counts: dict[str, int] = {}
    if found[-1] == "no tests ran":
        return counts
    for item in found[-1].split(", "):
        number, word = item.split(" ", 1)
        key = {"error": "errors", "warning": "warnings"}.get(word, word)
        counts[key] = counts.get(key, 0) + int(number)
    return counts


def _tampering(outcome: _Outcome, passed: int, failed: int, errors: int) -> str | None:
    """Why the JUnit report disagrees with pytest's exit status or summary line, if it does."""
    if outcome.timed_out:  # killed by us: already a failure, nothing left to cross-check
        return None
    clean = failed == 0 and errors == 0
    code = outcome.returncode
    if (clean and code not in (0, 5)) or (not clean and code == 0):
        return (
            f"the JUnit report says {failed} failed, {errors} errors but pytest exited "
            f"with status {code}"
        )
    summary = _summary_counts(outcome.output)
    if summary is None:
        if code is not None and code >= 0:
            return "pytest's terminal summary line is missing from its output"
        return None
    seen = (summary.get("passed", 0) + summary.get("xpassed", 0), summary.get("failed", 0))
    seen_errors = summary.get("errors", 0)
    if seen != (passed, failed) or (seen_errors == 0) != (errors == 0):
        return (
            f"the JUnit report says {passed} passed, {failed} failed, {errors} errors; "
            f"pytest's summary says {seen[0]} passed, {seen[1]} failed, {seen_errors} errors"
        )
    return None


def _no_report(outcome: _Outcome, isolation: dict[str, str], limit_hit: str | None) -> str:
    """Why pytest produced no JUnit report."""
    if limit_hit is not None:
        return f"pytest produced no report: {limit_hit}"
    if isolation.get("exec", "").startswith("failed"):
        return f"the sandbox could not start pytest: {isolation['exec']}"
    return f"pytest produced no report (exit status {outcome.returncode})"


# What the limits make Python raise instead of killing it (CPython ignores SIGXFSZ).
_RAISED_BY_LIMIT = (
    ("MemoryError", "memory limit {memory_mb} MB exceeded (MemoryError)"),
    ("[Errno 27] File too large", "file size limit {max_file_mb} MB exceeded (EFBIG)"),
    ("BlockingIOError: [Errno 11]", "process limit {max_processes} reached (EAGAIN)"),
)


def _limit_hit(outcome: _Outcome, failures: list[str], limits: SandboxLimits) -> str | None:
    if outcome.timed_out:
        return f"wall-clock timeout after {limits.wall_timeout_s:g} s"
    code = outcome.returncode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGXCPU:
            return f"cpu limit {limits.cpu_s} s exceeded (killed by {name})"
        if -code == signal.SIGXFSZ:
            return f"file size limit {limits.max_file_mb} MB exceeded (killed by {name})"
        return f"killed by {name}"
    for marker, template in _RAISED_BY_LIMIT:
        if any(marker in f for f in failures) or marker in outcome.output:
            return template.format(**limits.model_dump())
    return None
