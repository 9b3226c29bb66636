"""Name normalisation, typosquat suspicion, the positive-answer cache and the config schema."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from agent_platform.config import load_yaml_model, project_root
from agent_platform.errors import ConfigError
from agent_platform.schemas.supply_chain import SupplyChainConfig, TyposquatConfig
from agent_platform.supply_chain.cache import RegistryCache
from agent_platform.supply_chain.model import ReleaseInfo
from agent_platform.supply_chain.names import edit_distance, normalize_pypi
from agent_platform.supply_chain.typosquat import TyposquatChecker


def test_pep503_normalisation() -> None:
    assert normalize_pypi("Ruamel.YAML__clib") == "ruamel-yaml-clib"
    assert normalize_pypi("zope-.interface") == "zope-interface"


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("requests", "requests", 0),
        ("reqests", "requests", 1),
        ("reqeusts", "requests", 1),
        ("requestss", "requests", 1),
        ("rqeuset", "requests", 3),
        ("", "ab", 2),
    ],
)
def test_edit_distance_counts_transpositions_as_one(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, limit=2) == min(distance, 3)


def test_typosquat_flags_near_names_but_not_exact_or_allowed() -> None:
    checker = TyposquatChecker(
        TyposquatConfig(
            allow=["httpx2"],
            popular={"python": ["requests", "httpx", "python-dateutil"], "node": ["express"]},
        )
    )
    assert checker.suspects("python", "reqeusts") == ["requests"]
    assert checker.suspects("python", "Requests") == []
    assert checker.suspects("python", "python_dateutil") == []
    assert checker.suspects("python", "httpx2") == []
    assert checker.suspects("node", "expresss") == ["express"]
    assert checker.suspects("node", "requests") == []


def _release(version: str = "1.0") -> ReleaseInfo:
    return ReleaseInfo(
        "python",
        "pkg",
        version,
        frozenset({"sha256:ab"}),
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        yanked=True,
        yanked_reason="bad",
    )


def test_cache_round_trip_and_namespaces(tmp_path: Path) -> None:
    cache = RegistryCache(tmp_path, ttl_seconds=60, namespace="http://a")
    cache.put(_release())
    assert cache.get("python", "pkg", "1.0") == _release()
    assert cache.project_known("python", "pkg")
    assert cache.get("python", "pkg", "2.0") is None
    other = RegistryCache(tmp_path, ttl_seconds=60, namespace="http://b")
    assert other.get("python", "pkg", "1.0") is None


def test_cache_entries_expire_and_corrupt_files_are_misses(tmp_path: Path) -> None:
    cache = RegistryCache(tmp_path, ttl_seconds=60, namespace="http://a")
    cache.put(_release())
    files = sorted(tmp_path.rglob("1.0.json"))
    assert len(files) == 1
    payload = json.loads(files[0].read_text())
    payload["stored_at"] = time.time() - 61
    files[0].write_text(json.dumps(payload))
    assert cache.get("python", "pkg", "1.0") is None
    files[0].write_text("{not json")
    assert cache.get("python", "pkg", "1.0") is None
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    assert os.access(files[0], os.R_OK)


def test_shipped_config_loads_with_the_packaged_snapshot_and_its_staleness_policy() -> None:
    config = load_yaml_model(project_root() / "configs/supply_chain.yaml", SupplyChainConfig)
    advisories = config.advisories
    assert advisories.offline == [] and advisories.snapshot.enabled
    assert advisories.snapshot.dir == ""  # the snapshot inside the package
    assert (advisories.max_advisory_age_days, advisories.on_stale_advisories) == (30, "warn")
    assert config.policy.level("yanked") == "fail"
    for kind in ("missing_hashes", "index_override", "empty_lockfile", "non_registry_source"):
        assert config.policy.level(kind) == "fail", kind
    assert config.policy.level("newer_than_snapshot") == "warn"
    assert "requests" in config.typosquat.popular["python"]


def test_bad_config_names_file_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "supply_chain.yaml"
    path.write_text("advisories:\n  severity_threshold: SEVERE\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, SupplyChainConfig)
    assert "advisories.severity_threshold" in str(caught.value) and "SEVERE" in str(caught.value)
    path.write_text("advisories:\n  on_stale_advisories: ignore\n")
    with pytest.raises(ConfigError, match=r"advisories\.on_stale_advisories"):
        load_yaml_model(path, SupplyChainConfig)
    path.write_text("advisories:\n  max_advisory_age_days: 0\n")
    with pytest.raises(ConfigError, match=r"advisories\.max_advisory_age_days"):
        load_yaml_model(path, SupplyChainConfig)
    path.write_text("policy:\n  findings:\n    made_up: fail\n")
    with pytest.raises(ConfigError, match="unknown finding kinds"):
        load_yaml_model(path, SupplyChainConfig)
