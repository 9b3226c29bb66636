"""Offline advisory sources: configured directories, the packaged snapshot, and staleness.

A configured directory resolves against the project root (never the working directory); the
packaged snapshot answers when no directory does; anything unusable leaves packages "not
checked" with a message naming the path, never "clean" and never a crash; and data older than
``max_advisory_age_days`` is reported (``warn``) or refused (``fail``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_platform.schemas.supply_chain import (
    AdvisoryConfig,
    OfflineAdvisorySource,
    SnapshotConfig,
)
from agent_platform.supply_chain.advisories import AdvisoryService
from agent_platform.supply_chain.model import LockedPackage
from agent_platform.supply_chain.snapshot import PACKAGED_SNAPSHOT
from agent_platform.supply_chain.verify import load_supply_chain_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "supply_chain"
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
SNAPSHOT_LABEL = "Python Packaging Advisory Database snapshot 3ccb612 of 2024-10-10"
OLD_JINJA = LockedPackage("python", "jinja2", "2.10")
NEW_JINJA = LockedPackage("python", "jinja2", "3.1.4")


def _config(**changes: object) -> AdvisoryConfig:
    """The shipped advisory settings with the OSV API off (no network in unit tests)."""
    shipped = load_supply_chain_config().advisories
    return shipped.model_copy(update={"osv_enabled": False, **changes})


def _directory(path: str) -> OfflineAdvisorySource:
    return OfflineAdvisorySource(
        name="Fixture Advisories",
        ecosystem="python",
        path=path,
        snapshot="f1",
        snapshot_date=dt.date(2026, 11, 20),
        licence="CC-BY 4.0",
    )


def test_the_packaged_snapshot_answers_when_the_osv_api_is_off() -> None:
    outcome = AdvisoryService(_config(), Path("/nonexistent")).check([OLD_JINJA, NEW_JINJA], NOW)
    old, new = outcome.checks[OLD_JINJA.key], outcome.checks[NEW_JINJA.key]
    assert old.checked and {"PYSEC-2019-217", "PYSEC-2021-66"} <= {a.id for a in old.advisories}
    assert new.checked and new.advisories == ()
    assert old.source == SNAPSHOT_LABEL and old.snapshot_date == dt.date(2024, 10, 10)
    assert all(a.source == SNAPSHOT_LABEL for a in old.advisories)
    (source,) = outcome.sources
    assert Path(source.location).parent == PACKAGED_SNAPSHOT
    assert source.kind == "advisory snapshot" and "CC-BY 4.0" in source.licence
    (use,) = outcome.snapshots
    assert (use.date, use.age_days, use.stale) == (dt.date(2024, 10, 10), 777, True)
    assert use.sha256 and use.sha256 in source.note
    assert any("STALE" in note and "777 days old" in note for note in outcome.notes)


def test_stale_data_is_refused_when_the_policy_says_fail() -> None:
    config = _config(on_stale_advisories="fail")
    check = AdvisoryService(config, Path("/nonexistent")).check([OLD_JINJA], NOW).checks
    refused = check[OLD_JINJA.key]
    assert not refused.checked and refused.advisories == ()
    assert "777 days old" in refused.error and "older than the 30 days allowed" in refused.error
    fresh = _config(on_stale_advisories="fail", max_advisory_age_days=800)
    outcome = AdvisoryService(fresh, Path("/nonexistent")).check([OLD_JINJA], NOW)
    assert outcome.checks[OLD_JINJA.key].checked and not outcome.snapshots[0].stale


def test_configured_directory_resolves_against_the_root_and_wins_over_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "clone"
    shutil.copytree(FIXTURES / "offline", root / "advisories")
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    config = _config(offline=[_directory("advisories")])
    outcome = AdvisoryService(config, root).check([OLD_JINJA, NEW_JINJA], NOW)
    old = outcome.checks[OLD_JINJA.key]
    assert [a.id for a in old.advisories] == ["PYSEC-TEST-2019-1"]
    assert outcome.checks[NEW_JINJA.key].advisories == ()  # the withdrawn record is ignored
    assert old.source == "Fixture Advisories snapshot f1 of 2026-11-20"
    (source,) = outcome.sources
    assert Path(source.location) == (root / "advisories").resolve()
    (use,) = outcome.snapshots
    assert (use.age_days, use.stale, use.sha256) == (6, False, "")


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [
        (lambda folder: None, "does not exist (advisories.offline path 'advisories')"),
        (lambda folder: folder.mkdir(parents=True), "holds no package folders"),
        (lambda folder: folder.write_text("x"), "is not a directory"),
    ],
    ids=["missing", "empty", "a-file"],
)
def test_unusable_sources_fail_closed_naming_the_path(
    tmp_path: Path, prepare: Callable[[Path], object], fragment: str
) -> None:
    folder = tmp_path / "advisories"
    prepare(folder)
    config = _config(offline=[_directory("advisories")], snapshot=SnapshotConfig(enabled=False))
    outcome = AdvisoryService(config, tmp_path).check([OLD_JINJA], NOW)
    check = outcome.checks[OLD_JINJA.key]
    assert not check.checked and check.advisories == ()
    assert str(folder.resolve()) in check.error and fragment in check.error
    assert "OSV API disabled" in check.error
    assert outcome.sources == () and outcome.snapshots == ()


def test_a_changed_snapshot_file_is_refused_by_its_manifest_hash(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot"
    shutil.copytree(PACKAGED_SNAPSHOT, folder)
    (data,) = folder.glob("pypi-*.jsonl.gz")
    data.write_bytes(data.read_bytes()[:-8] + b"\0" * 8)
    config = _config(snapshot=SnapshotConfig(dir=str(folder)))
    check = AdvisoryService(config, tmp_path).check([OLD_JINJA], NOW).checks[OLD_JINJA.key]
    assert not check.checked
    assert str(data) in check.error and "the manifest says" in check.error


def test_an_unreadable_record_leaves_only_that_package_unchecked(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "offline", tmp_path / "advisories")
    broken = tmp_path / "advisories/certifi"
    broken.mkdir()
    (broken / "PYSEC-BROKEN.yaml").write_text("id: [unclosed\n")
    certifi = LockedPackage("python", "certifi", "2024.8.30")
    config = _config(offline=[_directory("advisories")])
    outcome = AdvisoryService(config, tmp_path).check([certifi, OLD_JINJA], NOW)
    bad = outcome.checks[certifi.key]
    assert not bad.checked and "PYSEC-BROKEN.yaml is unreadable" in bad.error
    assert outcome.checks[OLD_JINJA.key].checked


def test_an_ecosystem_the_snapshot_lacks_is_named(tmp_path: Path) -> None:
    lodash = LockedPackage("node", "lodash", "4.17.20")
    outcome = AdvisoryService(_config(), tmp_path).check([lodash, OLD_JINJA], NOW)
    error = outcome.checks[lodash.key].error
    assert not outcome.checks[lodash.key].checked
    assert "has no data for node (it holds: python)" in error
    assert outcome.checks[OLD_JINJA.key].checked
    no_snapshot = _config(snapshot=SnapshotConfig(enabled=False))
    unchecked = AdvisoryService(no_snapshot, tmp_path).check([lodash], NOW).checks[lodash.key]
    assert "no offline advisory source is configured for node" in unchecked.error
