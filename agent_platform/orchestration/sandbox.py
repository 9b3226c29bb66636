"""The QA sandbox: run generated tests with pytest in an isolated, resource-limited subprocess.

Each run gets a fresh temporary workspace holding only the generated files, a scrubbed
environment (minimal PATH, HOME inside the workspace, no provider keys or other secrets), a
wall-clock timeout enforced here and CPU, memory, process-count and file-size limits plus
network isolation applied in the child by :mod:`_sandbox_boot` before it execs pytest. The
verdict comes from pytest's own JUnit XML report; the exit status only explains a run that
produced no report (killed by a limit or the timeout).
"""

from __future__ import annotations

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

__all__ = ["PytestSandbox", "sandbox_environment"]

_BOOT = Path(__file__).with_name("_sandbox_boot.py")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_TIMING = re.compile(r" in \d+(?:\.\d+)?s(?: \(\d+:\d+:\d+\))?")


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
        with tempfile.TemporaryDirectory(prefix="ap-sandbox-") as root:
            workspace, control = Path(root, "ws"), Path(root, "ctl")
            self._prepare(workspace, control, files)
            outcome = _normalized(self._execute(workspace, control), root)
            isolation = _read_isolation(control)
            return _result(outcome, control / "junit.xml", isolation, self.limits)

    def _prepare(self, workspace: Path, control: Path, files: dict[str, str]) -> None:
        for directory in (workspace, workspace / ".tmp", control):
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
            f"--junitxml={control / 'junit.xml'}",
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
        if os.geteuid() == 0:
            _chown_tree(workspace.parent, self.limits.unprivileged_uid)

    def _execute(self, workspace: Path, control: Path) -> _Outcome:
        command = [self.python, "-I", str(_BOOT), str(control / "config.json")]
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


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for path in root.rglob("*"):
        os.chown(path, uid, uid, follow_symlinks=False)


def _read_isolation(control: Path) -> dict[str, str]:
    try:
        data = json.loads((control / "isolation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"network": "unknown: the sandbox bootstrap did not report"}
    return {str(k): str(v) for k, v in data.items()}


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
