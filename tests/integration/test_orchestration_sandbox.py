"""The QA sandbox's limits, for real: runaway CPU, memory, processes, file size, network, sleep,
environment; and, as root (CI), the interpreter living under a directory others cannot enter."""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_platform.orchestration.sandbox import PytestSandbox
from agent_platform.schemas.policy import load_agent_policy

ROOT = os.geteuid() == 0


@pytest.fixture
def sandbox() -> PytestSandbox:
    limits = load_agent_policy().sandbox.model_copy(
        update={"cpu_s": 2, "wall_timeout_s": 30, "memory_mb": 512}
    )
    return PytestSandbox(limits)


def test_passing_and_failing_tests_are_counted_from_the_junit_report(sandbox):
    result = sandbox.run(
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": (
                "from calc import add\n\n\ndef test_ok():\n    assert add(1, 2) == 3\n\n\n"
                "def test_bad():\n    assert add(1, 1) == 3\n"
            ),
        }
    )
    assert (result.tests_run, result.passed, result.failed) == (2, 1, 1)
    assert not result.ok and result.exit_code == 1
    assert result.failures[0].startswith("tests.test_calc::test_bad")


def test_a_test_that_loops_forever_is_stopped_by_the_cpu_limit(sandbox):
    result = sandbox.run({"test_loop.py": "def test_loop():\n    while True:\n        pass\n"})
    assert not result.ok and not result.timed_out
    assert result.limit_hit is not None and "cpu limit 2 s" in result.limit_hit
    assert result.tests_run == 0


def test_a_sleeping_test_is_stopped_by_the_wall_clock_timeout():
    limits = load_agent_policy().sandbox.model_copy(update={"wall_timeout_s": 3})
    result = PytestSandbox(limits).run(
        {"test_sleep.py": "import time\n\n\ndef test_sleep():\n    time.sleep(120)\n"}
    )
    assert result.timed_out and not result.ok
    assert result.limit_hit == "wall-clock timeout after 3 s"


def test_a_test_that_allocates_too_much_memory_is_stopped(sandbox):
    result = sandbox.run(
        {"test_mem.py": "def test_mem():\n    block = bytearray(4 * 1024 ** 3)\n    assert block\n"}
    )
    assert not result.ok and result.failed == 1
    assert result.limit_hit is not None and "memory limit 512 MB" in result.limit_hit


def _net_test(port: int) -> dict[str, str]:
    """A generated test that passes only when it can connect to ``port`` on loopback."""
    return {
        "test_net.py": (
            "import socket\n\n\ndef test_net():\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
        )
    }


def test_a_test_cannot_reach_the_network_and_the_result_says_so(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = sandbox.run(_net_test(server.getsockname()[1]))
    if ROOT:  # root may always unshare: CI must get the isolation, not a note about it
        assert result.network_isolated and result.isolation["network"] == "ok"
    if result.network_isolated:
        assert result.failed == 1 and "Network is unreachable" in result.failures[0]
    else:
        assert result.isolation["network"].startswith("not isolated: ")


@pytest.mark.skipif(not ROOT, reason="needs root to drop CAP_SYS_ADMIN with setpriv")
def test_when_the_network_cannot_be_cut_off_the_result_says_so(tmp_path: Path):
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is required on the CI machine"
    script = textwrap.dedent(
        """
        import json, socket, sys
        from agent_platform.orchestration.sandbox import PytestSandbox
        from agent_platform.schemas.policy import load_agent_policy
        sys.path.insert(0, sys.argv[1])
        from test_orchestration_sandbox import _net_test
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(8)
            result = PytestSandbox(load_agent_policy().sandbox).run(
                _net_test(server.getsockname()[1]))
        print(json.dumps(result.model_dump()))
        """
    )
    # Without CAP_SYS_ADMIN even root cannot unshare the network namespace.
    command = [setpriv, "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"]
    done = subprocess.run(
        [*command, sys.executable, "-c", script, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["network_isolated"] is False
    assert result["isolation"]["network"].startswith("not isolated: [Errno 1] unshare")
    assert result["ok"] and result["passed"] == 1  # the generated test did reach the network
    # Dropping to an unprivileged uid depends on the interpreter being readable by it (a
    # system Python is, one under /root is not); either way the result says which.
    privileges = result["isolation"]["privileges"]
    assert (
        privileges.startswith("ok: running as uid") or "RLIMIT_NPROC is not enforced" in privileges
    )


def test_a_fork_bomb_is_stopped_by_the_process_limit():
    limits = load_agent_policy().sandbox.model_copy(update={"max_processes": 8})
    body = textwrap.dedent(
        """
        import os, signal

        def test_fork():
            children = []
            try:
                for _ in range(64):
                    pid = os.fork()
                    if pid == 0:
                        signal.pause()
                    children.append(pid)
            finally:
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
        """
    )
    result = PytestSandbox(limits).run({"test_fork.py": body})
    assert not result.ok and result.failed == 1
    assert result.limit_hit == "process limit 8 reached (EAGAIN)"


def test_a_test_that_writes_a_huge_file_is_stopped_by_the_file_size_limit():
    limits = load_agent_policy().sandbox.model_copy(update={"max_file_mb": 1})
    body = (
        "def test_big():\n    with open('big.bin', 'wb') as f:\n        f.write(b'x' * 4_000_000)\n"
    )
    result = PytestSandbox(limits).run({"test_big.py": body})
    assert not result.ok and result.failed == 1
    assert result.limit_hit == "file size limit 1 MB exceeded (EFBIG)"


def test_an_interpreter_under_a_closed_directory_still_runs_and_drops_privileges(
    tmp_path: Path,
):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    venv = closed / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(target, "host.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    limits = load_agent_policy().sandbox
    result = PytestSandbox(limits, python=str(python)).run(
        {"test_ok.py": "def test_ok():\n    assert True\n"}
    )
    assert result.ok and result.tests_run == 1, (result.failures, result.isolation)
    if ROOT:
        assert str(closed) in result.isolation["filesystem"]
        assert result.isolation["privileges"] == f"ok: running as uid {limits.unprivileged_uid}"


def test_the_environment_is_scrubbed_of_provider_keys(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-not-leak")
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", "postgresql://secret")
    result = sandbox.run(
        {
            "test_env.py": (
                "import os\n\n\ndef test_env():\n"
                "    assert 'OPENAI_API_KEY' not in os.environ\n"
                "    assert 'AGENT_PLATFORM_DATABASE_URL' not in os.environ\n"
                "    assert os.environ['HOME'].endswith('/ws')\n"
            )
        }
    )
    assert result.ok, result.output


_FORGED_JUNIT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
    'failures="0" skipped="0" tests="2"><testcase classname="test_x" name="test_ok"/>'
    '<testcase classname="test_x" name="test_bad"/></testsuite></testsuites>'
)


@pytest.mark.parametrize("also_exit_zero", [False, True])
def test_a_conftest_that_rewrites_the_junit_report_does_not_turn_a_failure_into_a_pass(
    sandbox, also_exit_zero
):
    # Flushed first so pytest's own summary line is in the output the parent reads.
    exit_zero = "    sys.stdout.flush()\n    os._exit(0)\n" if also_exit_zero else ""
    conftest = (
        "import os\nimport sys\n\n\ndef pytest_unconfigure(config):\n"
        "    report = config.option.xmlpath\n"
        f"    with open(report, 'w') as handle:\n        handle.write({_FORGED_JUNIT!r})\n"
        "    control = os.path.join(os.path.dirname(report), '..', 'ctl', 'isolation.json')\n"
        "    try:\n"
        "        with open(control, 'w') as handle:\n"
        '            handle.write(\'{"network": "ok", "forged": "yes"}\')\n'
        "    except PermissionError:\n"
        "        print('control directory not writable')\n"
        f"{exit_zero}"
    )
    result = sandbox.run(
        {
            "conftest.py": conftest,
            "test_x.py": "def test_ok():\n    assert True\n\n\ndef test_bad():\n    assert False\n",
        }
    )
    assert not result.ok
    assert result.failures[0].startswith("sandbox report tampering: ")
    expected = (
        "pytest's summary says 1 passed, 1 failed"
        if also_exit_zero
        else "but pytest exited with status 1"
    )
    assert expected in result.isolation["report"], result.isolation
    assert "forged" not in result.isolation
    if ROOT:
        assert "control directory not writable" in result.output


def test_generated_code_cannot_forge_the_isolation_status(sandbox):
    body = textwrap.dedent(
        """
        import json, os

        def test_forge():
            line = (json.dumps({"network": "ok", "forged": "yes"}) + "\\n").encode()
            for fd in range(3, 64):
                try:
                    os.write(fd, line)
                except OSError:
                    continue
        """
    )
    result = sandbox.run({"test_forge.py": body})
    assert result.ok and "forged" not in result.isolation
    assert result.isolation["report"] == "ok: matches pytest's exit status and summary"


def test_generated_code_cannot_read_the_parent_environment(sandbox):
    body = textwrap.dedent(
        """
        import os, pytest

        def test_parent_environ():
            with pytest.raises(PermissionError):
                open(f"/proc/{os.getppid()}/environ", "rb").read()
        """
    )
    result = sandbox.run({"test_environ.py": body})
    assert result.ok, (result.failures, result.output)
