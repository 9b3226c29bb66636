"""Version matching against OSV records (PEP 440, semver, explicit lists) and severities."""

from __future__ import annotations

from typing import Any

import pytest

from agent_platform.errors import InvalidInputError
from agent_platform.supply_chain.osv_match import match_record, to_advisory
from agent_platform.supply_chain.semver import parse_semver
from agent_platform.supply_chain.severity import (
    at_or_above,
    cvss3_base_score,
    record_severity,
)


def _record(
    ecosystem: str,
    name: str,
    *events: dict[str, str],
    rtype: str = "ECOSYSTEM",
    versions: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": "TEST-1",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": rtype, "events": list(events)}],
                "versions": list(versions),
            }
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.9.0", "1.10.0"),
        ("0", "0.0.0"),
    ],
)
def test_semver_precedence(a: str, b: str) -> None:
    assert parse_semver(a) < parse_semver(b)
    assert not parse_semver(b) < parse_semver(a)


def test_semver_ignores_build_metadata_and_rejects_garbage() -> None:
    assert parse_semver("v1.2.3+build.5") == parse_semver("1.2.3")
    with pytest.raises(InvalidInputError):
        parse_semver("1.2")


def test_pep440_range_with_fixed_and_normalised_names() -> None:
    record = _record("PyPI", "Jinja2", {"introduced": "0"}, {"fixed": "2.10.1"})
    assert match_record(record, "python", "jinja2", "2.10") is not None
    assert match_record(record, "python", "jinja2", "2.10.1") is None
    assert (
        match_record(record, "python", "jinja2", "2.10.1rc1") is not None
    )  # pre-release is before
    assert match_record(record, "node", "jinja2", "2.10.0") is None  # other ecosystem


def test_last_affected_limit_and_reintroduction() -> None:
    record = _record(
        "PyPI",
        "pkg",
        {"introduced": "1.0"},
        {"last_affected": "1.4"},
        {"introduced": "2.0"},
        {"fixed": "2.2"},
    )
    hits = {
        v: match_record(record, "python", "pkg", v) is not None
        for v in ("0.9", "1.0", "1.4", "1.5", "2.1", "2.2")
    }
    assert hits == {"0.9": False, "1.0": True, "1.4": True, "1.5": False, "2.1": True, "2.2": False}
    limited = _record("PyPI", "pkg", {"introduced": "0"}, {"limit": "3.0"})
    assert match_record(limited, "python", "pkg", "2.9") is not None
    assert match_record(limited, "python", "pkg", "3.0") is None


def test_semver_ranges_for_npm_and_explicit_versions() -> None:
    record = _record("npm", "lodash", {"introduced": "0"}, {"fixed": "4.17.21"}, rtype="SEMVER")
    assert match_record(record, "node", "lodash", "4.17.20") is not None
    assert match_record(record, "node", "lodash", "4.17.21") is None
    listed = _record("PyPI", "pkg", rtype="GIT", versions=("1.0",))
    assert match_record(listed, "python", "pkg", "1.0.0") == "listed version 1.0"
    assert match_record(listed, "python", "pkg", "1.1") is None


def test_withdrawn_records_affect_nothing() -> None:
    record = _record("PyPI", "pkg", {"introduced": "0"}, withdrawn="2024-01-01T00:00:00Z")
    assert match_record(record, "python", "pkg", "1.0") is None


def test_unparsable_range_counts_as_affected() -> None:
    record = _record("PyPI", "pkg", {"introduced": "not-a-version"})
    assert "not comparable" in (match_record(record, "python", "pkg", "1.0") or "")


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H", 5.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N", 5.3),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores_match_the_specification(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


def test_severity_sources_in_order_and_unknown() -> None:
    labelled = {
        "database_specific": {"severity": "MEDIUM"},
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    }
    assert record_severity(labelled) == ("MODERATE", "database_specific.severity")
    scored = {
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    }
    assert record_severity(scored) == ("CRITICAL", "CVSS_V3 base score 9.8")
    v4_only = {"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N"}]}
    assert record_severity(v4_only)[0] == "UNKNOWN"
    assert record_severity({})[0] == "UNKNOWN"
    assert at_or_above("HIGH", "MODERATE") and not at_or_above("LOW", "MODERATE")


def test_to_advisory_collects_fixed_versions_and_summary() -> None:
    record = _record("PyPI", "pkg", {"introduced": "0"}, {"fixed": "1.2"}, details="Line one\nmore")
    advisory = to_advisory(record, "python", "pkg", "fixture source", "range")
    assert (advisory.fixed, advisory.summary, advisory.source) == (
        ("1.2",),
        "Line one",
        "fixture source",
    )
