"""The sandbox's cross-check of pytest's JUnit report against its exit status and summary line,
and the non-dumpable marking of the parent process."""

from __future__ import annotations

import ctypes
import sys

import pytest

from agent_platform.orchestration.sandbox import (
    _Outcome,
    _summary_counts,
    _tampering,
    make_non_dumpable,
)


def _outcome(code: int | None, output: str, timed_out: bool = False) -> _Outcome:
    return _Outcome(returncode=code, output=output, timed_out=timed_out, duration_ms=1.0)


def test_the_summary_line_is_parsed_with_and_without_rules():
    assert _summary_counts("x\n1 failed, 2 passed, 1 error in <time>\n") == {
        "failed": 1,
        "passed": 2,
        "errors": 1,
    }
    assert _summary_counts("==== 3 passed, 1 xpassed in <time> ====") == {
        "passed": 3,
        "xpassed": 1,
    }
    assert _summary_counts("no tests ran in <time>") == {}
    assert _summary_counts("no summary here") is None


def test_the_last_summary_line_counts():
    output = "1 passed in <time>\nprinted by a test\n1 failed in <time>\n"
    assert _summary_counts(output) == {"failed": 1}


def test_a_report_that_agrees_with_pytest_is_not_tampering():
    assert _tampering(_outcome(1, "1 failed, 1 passed in <time>"), 1, 1, 0) is None
    assert _tampering(_outcome(0, "2 passed in <time>"), 2, 0, 0) is None
    assert _tampering(_outcome(2, "1 error in <time>"), 0, 0, 1) is None
    assert _tampering(_outcome(5, "no tests ran in <time>"), 0, 0, 0) is None


def test_a_clean_report_with_a_failing_exit_status_is_tampering():
    found = _tampering(_outcome(1, "2 passed in <time>"), 2, 0, 0)
    assert found == "the JUnit report says 0 failed, 0 errors but pytest exited with status 1"


def test_a_report_that_disagrees_with_the_summary_is_tampering():
    found = _tampering(_outcome(0, "1 failed, 1 passed in <time>"), 2, 0, 0)
    assert found is not None and "pytest's summary says 1 passed, 1 failed" in found


def test_a_missing_summary_line_is_tampering_unless_pytest_was_killed():
    assert _tampering(_outcome(0, ""), 1, 0, 0) == (
        "pytest's terminal summary line is missing from its output"
    )
    assert _tampering(_outcome(-9, ""), 1, 1, 0) is None
    assert _tampering(_outcome(None, "", timed_out=True), 1, 1, 0) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
def test_the_parent_is_marked_non_dumpable():
    assert make_non_dumpable() is True
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE
