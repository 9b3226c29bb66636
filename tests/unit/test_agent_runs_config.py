"""configs/agent_runs.yaml: limits become Dagster tag limits and run tags; bad values are one
clear error; jobs.agent_instance exits 2 on a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.errors import ConfigError
from jobs.agent_instance import main as write_instance_main
from jobs.agent_runs_config import (
    PROVIDER_TAG_PREFIX,
    load_agent_runs_config,
    run_tags,
    tag_concurrency_limits,
)


def test_shipped_config_gives_a_limit_per_phase_and_per_provider() -> None:
    config = load_agent_runs_config()
    limits = {entry["key"]: entry for entry in tag_concurrency_limits(config)}
    assert limits["agent_platform/phase"]["value"] == {"applyLimitPerUniqueValue": True}
    for provider, limit in config.queue.per_provider.items():
        assert limits[PROVIDER_TAG_PREFIX + provider]["limit"] == limit


def test_run_tags_match_the_limits() -> None:
    tags = run_tags("abc", 2, ["openai", "local", "openai"])
    assert tags["agent_platform/providers"] == "local,openai"
    assert tags[PROVIDER_TAG_PREFIX + "openai"] == "1" and tags["agent_platform/phase"] == "2"


def test_a_bad_value_names_file_key_and_allowed(tmp_path: Path) -> None:
    path = tmp_path / "agent_runs.yaml"
    path.write_text("queue:\n  max_concurrent_runs: 0\n")
    with pytest.raises(ConfigError, match=r"queue\.max_concurrent_runs"):
        load_agent_runs_config(path)
    path.write_text("queue:\n  per_phase: 2\n  per_phase: 3\n")
    with pytest.raises(ConfigError, match="each key once"):
        load_agent_runs_config(path)


def test_instance_writer_exits_2_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("inbox:\n  interval_s: -1\n")
    assert write_instance_main(["--home", str(tmp_path / "h"), "--config", str(bad)]) == 2
    assert "inbox.interval_s" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()
