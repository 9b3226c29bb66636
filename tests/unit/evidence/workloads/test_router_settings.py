"""Router evidence settings: validated with clear errors, and time compressed consistently."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.errors import ConfigError
from agent_platform.evidence.workloads.router_settings import (
    compress_profile,
    compress_routing,
    load_router_evidence,
    resolve,
)
from agent_platform.models.config import load_routing
from agent_platform.models.simulation_profile import load_profile


def test_the_shipped_settings_load_and_name_existing_files() -> None:
    settings = load_router_evidence()
    for relative in (settings.accuracy.profile, settings.failover.profile):
        assert resolve(relative).is_file(), relative
    assert sum(settings.failover.incidents.values()) > 0


def test_every_duration_of_the_profile_is_divided_by_the_scale() -> None:
    path = resolve(load_router_evidence().failover.profile)
    real, fast = load_profile(path), compress_profile(path, 100)
    for name in ("openai", "anthropic", "local"):
        before, after = real.for_provider(name), fast.for_provider(name)
        assert after.latency.median_ms == pytest.approx(before.latency.median_ms / 100)
        assert after.latency.sigma == before.latency.sigma
        assert after.retry_after_s == pytest.approx(before.retry_after_s / 100)
        assert after.timeout_sleep_s == pytest.approx(before.timeout_sleep_s / 100)
        assert after.faults == before.faults


def test_the_router_failover_durations_are_divided_by_the_same_scale() -> None:
    shipped = load_routing()
    fast = compress_routing(shipped, 100)
    assert fast.failover.request_timeout_s == pytest.approx(
        shipped.failover.request_timeout_s / 100
    )
    assert fast.failover.cooldown_s == pytest.approx(shipped.failover.cooldown_s / 100)
    assert fast.failover.retry_delay_ms == round(shipped.failover.retry_delay_ms / 100)
    assert fast.failover.max_retries == shipped.failover.max_retries
    assert fast.weights == shipped.weights and fast.providers == shipped.providers


def test_an_unknown_incident_kind_names_the_key(tmp_path: Path) -> None:
    text = resolve("configs/router_evidence.yaml").read_text()
    path = tmp_path / "router_evidence.yaml"
    path.write_text(text.replace("unavailable: 0.25", "meteor: 0.25"))
    with pytest.raises(ConfigError, match="incidents"):
        load_router_evidence(path)
