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
from agent_platform.compliance.residency import eu_pinned_hosts, is_eu_region
from agent_platform.config import project_root
from agent_platform.errors import ConfigError
from agent_platform.schemas.residency import ResidencyConfig, ResidencyPolicy

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


SPECIFICATION_FORMAT = """
vendors:
  openai:
    region: eu-west-1
    endpoint: "https://api.openai.com/v1"
    data_retention: false
    training_data_opt_out: true
    logging_enabled: false
  anthropic:
    region: eu-central-1
    endpoint: "https://api.anthropic.com/v1"
    data_retention: false
    training_data_opt_out: true
    logging_enabled: false
  local:
    region: on-premise
    endpoint: "http://localhost:8080"
    data_retention: true
    training_data_opt_out: true
    logging_enabled: true
enforcement:
  block_non_eu_requests: true
"""


def test_a_config_in_the_specifications_format_is_judged_on_its_content(tmp_path: Path) -> None:
    path = tmp_path / "vendor_residency.yaml"
    path.write_text(SPECIFICATION_FORMAT)
    report = check_residency(load_residency_config(path), ["openai", "anthropic", "local"])
    hosts = {d.vendor: (d.endpoint_host, d.reason) for d in report.violations}
    assert sorted(hosts) == ["anthropic", "openai"]  # local (on-premise, loopback) passes
    assert hosts["openai"][0] == "api.openai.com"
    assert (
        "endpoint host 'api.openai.com' is not an EU-pinned host for openai" in hosts["openai"][1]
    )
    assert "endpoint host 'api.anthropic.com' is not an EU-pinned host" in hosts["anthropic"][1]
    assert "region" not in hosts["openai"][1]  # eu-west-1 is an EU region: the host is the problem


def test_the_policy_section_extends_or_replaces_the_built_in_knowledge() -> None:
    extended = _config(openai={"endpoint": "https://gateway.example.eu/v1"}).model_copy(
        update={"policy": ResidencyPolicy(eu_pinned_hosts={"openai": ["gateway.example.eu"]})}
    )
    assert evaluate_vendor("openai", extended).eu_compliant
    assert evaluate_vendor("anthropic", extended).eu_compliant  # the defaults still apply
    replaced = _config().model_copy(
        update={"policy": ResidencyPolicy(defaults="replace", eu_regions=["eu"])}
    )
    assert evaluate_vendor("openai", replaced).eu_compliant is False
    anthropic = evaluate_vendor("anthropic", replaced)
    assert "region 'eu-central-1' is not in the EU allow-list" in anthropic.reason
    assert eu_pinned_hosts("openai", ResidencyPolicy()) == ["eu.api.openai.com"]


def test_built_in_regions_are_eu_member_states_only() -> None:
    policy = ResidencyPolicy()
    assert is_eu_region("eu-central-1", policy) and is_eu_region("europe-west9", policy)
    for outside in ("eu-west-2", "eu-central-2", "us-east-1", "uksouth"):  # London, Zurich, ...
        assert not is_eu_region(outside, policy), outside


def test_an_on_premise_flag_needs_the_on_premise_region(tmp_path: Path) -> None:
    data = yaml.safe_load(SHIPPED.read_text())
    data["vendors"]["local"]["region"] = "eu-central-1"
    path = tmp_path / "vendor_residency.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"vendors\.local\.region") as caught:
        load_residency_config(path)
    assert "'on-premise' for an on_premise vendor" in str(caught.value)
