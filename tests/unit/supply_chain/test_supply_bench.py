"""bench.packages: the pip-audit comparison says when its ratio compares unequal work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from agent_platform.supply_chain.model import (
    AdvisoryCheck,
    LockedPackage,
    PackageResult,
    RegistryAnswer,
    VerificationRun,
)
from bench._harness import repeat_median
from bench.packages import (
    NOT_MEASURED,
    applicable_packages,
    audit_result,
    comparability,
    pip_audit_figures,
)


def _audit(deps: list[dict[str, Any]]) -> dict[str, Any]:
    return pip_audit_figures({"data": {"dependencies": deps}})


def test_all_skipped_is_not_comparable_and_says_why() -> None:
    deps = [
        {"name": n, "version": "1.0", "skip_reason": f"Dependency not found on PyPI: {n} (1.0)"}
        for n in ("a", "b", "c")
    ]
    figures = _audit(deps)
    assert (figures["pip_audit_skipped"], figures["pip_audit_audited"]) == (3, 0)
    assert figures["pip_audit_skip_reasons"] == {"Dependency not found on PyPI": 3}
    comparable, reason = comparability(3, figures, 0)
    assert comparable is False
    assert "pip-audit skipped 3 of 3 dependencies (3 x Dependency not found on PyPI)" in reason
    assert "audited 0" in reason


def test_same_work_is_comparable() -> None:
    figures = _audit([{"name": n, "version": "1.0", "vulns": []} for n in ("a", "b")])
    assert comparability(2, figures, 0) == (
        True,
        "both runs checked the same 2 dependencies against advisories",
    )
    assert comparability(2, figures, 1)[0] is True  # exit 1 = vulnerabilities found, a verdict


def test_different_package_counts_errors_and_no_report_are_not_comparable() -> None:
    figures = _audit([{"name": "a", "version": "1.0", "vulns": []}])
    comparable, reason = comparability(2, figures, 0)
    assert not comparable and "pip-audit listed 1 dependencies and we verified 2" in reason
    _, detail = comparability(2, figures, 0, applicable=1)
    assert "1 distinct packages among our lines have markers matching" in detail
    comparable, reason = comparability(1, figures, 2)
    assert not comparable and "pip-audit exited 2" in reason
    missing = pip_audit_figures({"data": None})
    assert missing["pip_audit_skipped"] == NOT_MEASURED
    assert comparability(1, missing, NOT_MEASURED)[0] is False


def test_applicable_packages_evaluates_markers_and_counts_names_once() -> None:
    results = tuple(
        PackageResult(
            LockedPackage("python", name, version, marker=marker),
            True,
            RegistryAnswer("found"),
            AdvisoryCheck(True, "fixture"),
        )
        for name, version, marker in [
            ("numpy", "2.3.0", 'python_version >= "3.11"'),
            ("numpy", "2.2.0", 'python_version < "3.11"'),
            ("pywin32", "311", 'sys_platform == "win32" and sys_platform != "win32"'),
            ("httpx", "0.28.1", ""),
        ]
    )
    run = VerificationRun(
        "python",
        "x.lock",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        1.0,
        results,
        (),
        "LOW",
        "fail",
        0,
    )
    assert applicable_packages(run) == 2  # numpy (one of its two pins holds) and httpx


def test_timings_are_medians_of_the_rounds_and_a_failed_pip_audit_is_not_measured() -> None:
    run = VerificationRun(
        "python", "x.lock", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 1.0, (), (), "LOW", "fail", 0
    )
    rounds = iter(
        [
            {"seconds": 1.0, "pip_audit_seconds": 2.0, "ratio_vs_pip_audit": 0.5},
            {"seconds": 3.0, "pip_audit_seconds": 2.0, "ratio_vs_pip_audit": 1.5},
            {"seconds": 2.0, "pip_audit_seconds": 4.0, "ratio_vs_pip_audit": 0.5},
        ]
    )
    timing = repeat_median(lambda: next(rounds), 3)
    audit = {"seconds": 4.0, "exit_code": 0, "data": {"dependencies": []}}
    result = audit_result(run, audit, timing)
    assert (result["ratio_vs_pip_audit"], result["ratio_vs_pip_audit_spread"]) == (0.5, 1.0)
    assert result["pip_audit_seconds"] == 2.0 and result["ratio_vs_pip_audit_runs"] == [
        0.5,
        1.5,
        0.5,
    ]
    assert result["comparable_ratio_vs_pip_audit"] == 0.5  # 0 listed = 0 verified, exit 0
    failed = audit_result(run, None, repeat_median(lambda: {"seconds": 1.0}, 3))
    assert failed["pip_audit_seconds"] == NOT_MEASURED
    assert failed["ratio_vs_pip_audit"] == NOT_MEASURED
    assert failed["comparable_ratio_vs_pip_audit"] == NOT_MEASURED
