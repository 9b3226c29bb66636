"""Residency over a whole config: every vendor judged, every routed provider covered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_platform.compliance import (
    check_residency,
    evaluate_vendor,
    load_residency_config,
    routing_providers,
)
from agent_platform.compliance.report import render_distribution_csv
from agent_platform.config import project_root
from agent_platform.errors import ConfigError
from agent_platform.schemas.residency import ResidencyConfig

SHIPPED = project_root() / "configs/vendor_residency.yaml"


def _config(**vendor_changes: dict[str, Any]) -> ResidencyConfig:
    data = yaml.safe_load(SHIPPED.read_text())
    for vendor, changes in vendor_changes.items():
        data["vendors"][vendor].update(changes)
    return ResidencyConfig.model_validate(data)


def test_shipped_config_passes_for_every_routed_provider() -> None:
    report = check_residency(load_residency_config(), routing_providers())
    assert report.passed, [d.reason for d in report.violations]
    assert {d.vendor for d in report.decisions} >= set(routing_providers())


@pytest.mark.parametrize(
    ("vendor", "changes", "reason"),
    [
        (
            "openai",
            {"region": "us-east-1", "endpoint": "https://eu.api.openai.com/v1"},
            "region 'us-east-1' is not in the EU allow-list",
        ),
        (
            "openai",
            {"region": "eu-west-1", "endpoint": "https://api.openai.com/v1"},
            "endpoint host 'api.openai.com' is not an EU-pinned host for openai",
        ),
        ("anthropic", {"logging_enabled": True}, "logging_enabled is true"),
        ("anthropic", {"data_retention": "30d"}, "data_retention is '30d', expected false"),
        ("openai", {"training_data_opt_out": False}, "training_data_opt_out is false"),
        (
            "local",
            {"endpoint": "http://gpu.example.com:8080/v1"},
            "on-premise vendor endpoint host 'gpu.example.com' is not loopback or allow-listed",
        ),
    ],
)
def test_each_violation_fails_with_its_reason(
    vendor: str, changes: dict[str, Any], reason: str
) -> None:
    report = check_residency(_config(**{vendor: changes}), ["openai", "anthropic", "local"])
    assert [d.vendor for d in report.violations] == [vendor]
    assert reason in report.violations[0].reason
    assert evaluate_vendor(vendor, _config(**{vendor: changes})) == report.violations[0]


def test_provider_without_residency_entry_fails() -> None:
    report = check_residency(_config(), ["openai", "anthropic", "local", "mistral"])
    assert [(d.vendor, d.reason) for d in report.violations] == [
        ("mistral", "no residency entry for this provider")
    ]
    csv_text = render_distribution_csv(report)
    assert csv_text.splitlines()[0] == "vendor,region,endpoint_host,eu_compliant,reason"
    assert "mistral,,,false,no residency entry for this provider" in csv_text


def test_routing_file_without_providers_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "model_routing.yaml"
    path.write_text("weights: {}\n")
    with pytest.raises(ConfigError, match="providers"):
        routing_providers(path)
