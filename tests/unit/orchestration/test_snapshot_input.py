"""Snapshots are read with the bounded YAML loader: a hostile snapshot is one ConfigError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.config import YAML_LIMIT_BYTES
from agent_platform.errors import ConfigError, InputFileError
from agent_platform.orchestration.snapshot import (
    export_snapshot,
    load_snapshot,
    snapshot_text,
    topology_from_text,
)
from agent_platform.orchestration.topology import default_topology
from agent_platform.schemas.policy import load_agent_policy

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def text() -> str:
    return snapshot_text(default_topology(load_agent_policy()))


def test_a_snapshot_with_a_repeated_key_is_refused(text: str) -> None:
    doubled = text + text.splitlines()[-1] + "\n"
    with pytest.raises(ConfigError, match=r"each key once per mapping") as info:
        topology_from_text(doubled, "g.yaml")
    assert str(info.value).startswith("g.yaml: ") and "(line " in info.value.key


def test_a_snapshot_that_is_not_a_mapping_is_clipped_in_the_message() -> None:
    with pytest.raises(ConfigError) as info:
        topology_from_text("[" + "1, " * 100_000 + "1]", "g.yaml")
    assert info.value.key == "<root>" and len(str(info.value)) < 300


@pytest.mark.parametrize(
    "hostile",
    ["nodes: " + "[" * 100_000, "a: &a [1, *a]\n", 'nodes: "\\ud800"\n'],
    ids=["deep", "recursive-alias", "lone-surrogate"],
)
def test_hostile_snapshot_text_is_one_line(hostile: str) -> None:
    with pytest.raises(ConfigError) as info:
        topology_from_text(hostile, "g.yaml")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_snapshot_files_are_read_within_bounds(tmp_path: Path, text: str) -> None:
    path = export_snapshot(default_topology(load_agent_policy()), tmp_path / "g.yaml")
    assert load_snapshot(path) == topology_from_text(text)
    path.write_text(text + "#" * YAML_LIMIT_BYTES, encoding="utf-8")
    with pytest.raises(InputFileError, match="snapshot file is"):
        load_snapshot(path)
    with pytest.raises(InputFileError, match="snapshot file must be a regular file"):
        load_snapshot(Path("/dev/zero"))
