"""The residency gate figures re-judge each CSV row from its region and host.

The stored ``eu_compliant`` boolean is never trusted on its own: a row claiming compliance for a
global endpoint is counted as non-compliant and reported, and the policy of the residency config
beside the evidence (or the built-in knowledge) is the one applied.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from agent_platform.compliance import check_residency, load_residency_config
from agent_platform.compliance.report import render_distribution_csv
from agent_platform.config import project_root
from agent_platform.evidence.formats.compliance import RESIDENCY_COLUMNS, residency_figures

HEADER = ",".join(RESIDENCY_COLUMNS)


def _csv(root: Path, *rows: str) -> Path:
    path = root / "metrics/compliance/vendor_region_distribution.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_the_shipped_check_writes_a_csv_the_gate_agrees_with(tmp_path: Path) -> None:
    report = check_residency(load_residency_config(), ["openai", "anthropic", "local"])
    path = _csv(tmp_path, *render_distribution_csv(report).splitlines()[1:])
    figures = residency_figures(path)
    assert figures == {
        "eu_compliance_rate": 1.0,
        "vendors_checked": 3,
        "non_eu_vendors": 0,
        "residency_verdict_mismatches": "none",
    }


def test_a_stored_verdict_its_region_and_host_contradict_is_reported(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "openai,eu-west-1,api.openai.com,true,compliant",  # edited: a global host
        "anthropic,eu-central-1,bedrock-runtime.eu-central-1.amazonaws.com,true,compliant",
        "local,on-premise,gpu.example.com,true,compliant",  # edited: not this machine
        "mistral,eu,api.example.eu,false,compliant",  # a false verdict with no reason
    )
    figures = residency_figures(path)
    assert figures["eu_compliance_rate"] == 0.25 and figures["non_eu_vendors"] == 3
    mismatches = str(figures["residency_verdict_mismatches"])
    assert "openai (stored true; endpoint host 'api.openai.com' is not an EU-pinned" in mismatches
    assert "local (stored true; on-premise vendor endpoint host 'gpu.example.com'" in mismatches
    assert "mistral (stored false with reason 'compliant')" in mismatches
    assert "anthropic" not in mismatches


def test_a_false_verdict_for_a_reason_outside_the_csv_stands(tmp_path: Path) -> None:
    row = "anthropic,eu-central-1,bedrock-runtime.eu-central-1.amazonaws.com,false,logging_enabled is true"
    figures = residency_figures(_csv(tmp_path, row))
    assert figures["eu_compliance_rate"] == 0.0
    assert figures["residency_verdict_mismatches"] == "none"


def test_the_policy_of_the_config_beside_the_evidence_is_applied(tmp_path: Path) -> None:
    row = "openai,eu,gateway.example.eu,true,compliant"
    assert residency_figures(_csv(tmp_path, row))["eu_compliance_rate"] == 0.0  # built-in only
    config = yaml.safe_load((project_root() / "configs/vendor_residency.yaml").read_text())
    config["policy"]["eu_pinned_hosts"] = {"openai": ["gateway.example.eu"]}
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/vendor_residency.yaml").write_text(yaml.safe_dump(config))
    figures = residency_figures(_csv(tmp_path, row))
    assert figures["eu_compliance_rate"] == 1.0
    assert figures["residency_verdict_mismatches"] == "none"
