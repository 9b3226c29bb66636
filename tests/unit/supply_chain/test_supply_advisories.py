"""The offline advisory path: resolved against the project root, and fail-closed when unusable.

CI clones the project into another folder with a copy of ``shared/`` beside it, so the shipped
``../shared/advisories/pypa/vulns`` must resolve against the project root (never the working
directory), and a missing, empty or unreadable snapshot must leave packages "not checked" with a
message naming the path, never "clean" and never a crash.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_platform.schemas.supply_chain import AdvisoryConfig, OfflineAdvisorySource
from agent_platform.supply_chain.advisories import AdvisoryService
from agent_platform.supply_chain.model import LockedPackage
from agent_platform.supply_chain.verify import load_supply_chain_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "supply_chain"
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
OLD_JINJA = LockedPackage("python", "jinja2", "2.10")
NEW_JINJA = LockedPackage("python", "jinja2", "3.1.4")


def _shipped_offline_only() -> AdvisoryConfig:
    """The shipped advisory settings with the OSV API switched off (no network in unit tests)."""
    shipped = load_supply_chain_config().advisories
    return shipped.model_copy(update={"osv_enabled": False})


def _clone_with_shared(tmp_path: Path) -> Path:
    """tmp/clone is the project root; tmp/shared/advisories/pypa/vulns holds fixture records."""
    root = tmp_path / "clone"
    root.mkdir()
    shutil.copytree(FIXTURES / "offline", tmp_path / "shared/advisories/pypa/vulns")
    return root


def test_shipped_offline_path_resolves_beside_a_clone_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _clone_with_shared(tmp_path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    outcome = AdvisoryService(_shipped_offline_only(), root).check([OLD_JINJA, NEW_JINJA], NOW)
    old, new = outcome.checks[OLD_JINJA.key], outcome.checks[NEW_JINJA.key]
    assert old.checked and [a.id for a in old.advisories] == ["PYSEC-TEST-2019-1"]
    assert new.checked and new.advisories == ()
    assert old.source == "Python Packaging Advisory Database snapshot 3ccb612 of 2024-10-10"
    (source,) = outcome.sources
    assert Path(source.location) == (tmp_path / "shared/advisories/pypa/vulns").resolve()
    assert source.date == "2024-10-10"


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [
        (lambda shared: None, "does not exist (advisories.offline path '../shared/advisories"),
        (lambda shared: shared.mkdir(parents=True), "holds no package folders"),
        (
            lambda shared: (shared.parent.mkdir(parents=True), shared.write_text("x")),
            "is not a directory",
        ),
    ],
    ids=["missing", "empty", "a-file"],
)
def test_unusable_snapshot_fails_closed_naming_the_path(
    tmp_path: Path, prepare: Callable[[Path], object], fragment: str
) -> None:
    root = tmp_path / "clone"
    root.mkdir()
    shared = tmp_path / "shared/advisories/pypa/vulns"
    prepare(shared)
    outcome = AdvisoryService(_shipped_offline_only(), root).check([OLD_JINJA], NOW)
    check = outcome.checks[OLD_JINJA.key]
    assert not check.checked and check.advisories == ()
    assert str(shared.resolve()) in check.error and fragment in check.error
    assert "OSV API disabled" in check.error
    assert outcome.sources == ()
    assert any(str(shared.resolve()) in note for note in outcome.notes)


def test_unreadable_record_leaves_only_that_package_unchecked(tmp_path: Path) -> None:
    root = _clone_with_shared(tmp_path)
    broken = tmp_path / "shared/advisories/pypa/vulns/certifi"
    broken.mkdir()
    (broken / "PYSEC-BROKEN.yaml").write_text("id: [unclosed\n")
    certifi = LockedPackage("python", "certifi", "2024.8.30")
    outcome = AdvisoryService(_shipped_offline_only(), root).check([certifi, OLD_JINJA], NOW)
    bad = outcome.checks[certifi.key]
    assert not bad.checked and "PYSEC-BROKEN.yaml is unreadable" in bad.error
    assert outcome.checks[OLD_JINJA.key].checked


def test_ecosystem_without_any_offline_source_is_named(tmp_path: Path) -> None:
    config = AdvisoryConfig(
        osv_enabled=False,
        offline=[
            OfflineAdvisorySource(
                name="Fixture",
                ecosystem="python",
                path=str(FIXTURES / "offline"),
                snapshot="f1",
                snapshot_date=dt.date(2024, 10, 10),
                licence="CC-BY 4.0",
            )
        ],
    )
    lodash = LockedPackage("node", "lodash", "4.17.20")
    outcome = AdvisoryService(config, tmp_path).check([lodash, OLD_JINJA], NOW)
    assert not outcome.checks[lodash.key].checked
    assert "no offline advisory source is configured for node" in outcome.checks[lodash.key].error
    assert outcome.checks[OLD_JINJA.key].checked
