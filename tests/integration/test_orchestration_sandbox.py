"""The QA sandbox's limits, for real: runaway CPU, memory, network, sleep, environment."""

from __future__ import annotations

import socket

import pytest

from agent_platform.orchestration.sandbox import PytestSandbox
from agent_platform.schemas.policy import load_agent_policy


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


def test_a_test_cannot_reach_the_network_and_the_result_says_so(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        result = sandbox.run(
            {
                "test_net.py": (
                    "import urllib.request\n\n\ndef test_net():\n"
                    f"    urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=5)\n"
                )
            }
        )
    if not result.network_isolated:
        pytest.skip(f"network isolation unavailable here: {result.isolation.get('network')}")
    assert result.failed == 1 and "Network is unreachable" in result.failures[0]
    assert result.isolation["network"] == "ok"


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
