"""The residency gate figures re-judge each vendor from its row's region and host.

The stored ``eu_compliant`` boolean is never counted, either way: a row claiming compliance for
a global endpoint counts as non-compliant, a compliant vendor stored as ``false`` counts as
compliant, and both are reported. Every vendor of the residency config and every routed
provider must have a row; the config beside the evidence (else the project's) is the one applied.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from agent_platform.config import project_root
from agent_platform.evidence.formats.compliance import (
    RESIDENCY_COLUMNS,
    residency_figures,
    write_residency,
)
from agent_platform.evidence.workloads.residency import run_residency

HEADER = ",".join(RESIDENCY_COLUMNS)
CSV = "metrics/compliance/vendor_region_distribution.csv"


def _csv(root: Path, *rows: str) -> Path:
    path = root / CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _measured(root: Path) -> Path:
    """The distribution CSV the residency workload writes for the shipped configs."""
    path = root / CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    assert write_residency(path, run_residency(project_root())) == 3
    return path


def _edit(path: Path, vendor: str, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    index = RESIDENCY_COLUMNS.index(column)
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == vendor:
            cells[index] = value
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_the_measured_csv_is_fully_compliant_with_its_sample_size(tmp_path: Path) -> None:
    figures = residency_figures(_measured(tmp_path))
    assert figures == {
        "eu_compliance_rate": 1.0,
        "eu_compliance_rate__k": 3,
        "eu_compliance_rate__n": 3,
        "vendors_checked": 3,
        "non_eu_vendors": 0,
        "residency_verdict_mismatches": "none",
    }


def test_a_row_edited_to_a_non_eu_host_drops_the_figure(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    _edit(path, "openai", "endpoint_host", "api.openai.com")  # stored verdict left at true
    figures = residency_figures(path)
    assert figures["eu_compliance_rate"] == round(2 / 3, 6)
    assert (figures["eu_compliance_rate__k"], figures["eu_compliance_rate__n"]) == (2, 3)
    mismatches = str(figures["residency_verdict_mismatches"])
    assert "openai (stored true; judged: endpoint host 'api.openai.com' is not an EU-pinned" in (
        mismatches
    )


def test_a_row_edited_to_a_non_eu_region_drops_the_figure(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    _edit(path, "anthropic", "region", "us-east-1")
    figures = residency_figures(path)
    assert figures["non_eu_vendors"] == 1
    assert "region 'us-east-1' is not in the EU allow-list" in str(
        figures["residency_verdict_mismatches"]
    )


def test_a_stored_false_for_a_compliant_vendor_is_not_counted(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    _edit(path, "anthropic", "eu_compliant", "false")
    figures = residency_figures(path)
    assert figures["eu_compliance_rate"] == 1.0
    assert "anthropic (stored false; judged: compliant)" in str(
        figures["residency_verdict_mismatches"]
    )


def test_a_vendor_without_a_row_counts_as_not_compliant(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if "local" not in line)
    )
    figures = residency_figures(path)
    assert (figures["eu_compliance_rate__k"], figures["eu_compliance_rate__n"]) == (2, 3)


def test_repeated_rows_do_not_inflate_the_sample(tmp_path: Path) -> None:
    good = "anthropic,eu-central-1,bedrock-runtime.eu-central-1.amazonaws.com,true,compliant"
    path = _csv(tmp_path, *[good] * 50, "openai,eu,api.openai.com,false,not pinned")
    figures = residency_figures(path)
    assert figures["eu_compliance_rate__n"] == 3  # openai, anthropic and the missing local
    assert figures["eu_compliance_rate__k"] == 1


def test_an_unknown_vendor_is_not_compliant(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    with path.open("a") as handle:
        handle.write("mistral,eu,api.mistral.ai,true,compliant\n")
    figures = residency_figures(path)
    assert figures["non_eu_vendors"] == 1
    assert "no residency entry for this vendor" in str(figures["residency_verdict_mismatches"])


def _config_beside(root: Path, change: dict[str, object]) -> None:
    config = yaml.safe_load((project_root() / "configs/vendor_residency.yaml").read_text())
    for key, value in change.items():
        section, _, field = key.partition(".")
        target = config["policy"] if section == "policy" else config["vendors"][section]
        target[field] = value
    (root / "configs").mkdir(exist_ok=True)
    (root / "configs/vendor_residency.yaml").write_text(yaml.safe_dump(config))


def test_the_policy_of_the_config_beside_the_evidence_is_applied(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    _edit(path, "openai", "endpoint_host", "gateway.example.eu")
    assert residency_figures(path)["eu_compliance_rate__k"] == 2  # project config: not pinned
    _config_beside(tmp_path, {"policy.eu_pinned_hosts": {"openai": ["gateway.example.eu"]}})
    assert residency_figures(path)["eu_compliance_rate__k"] == 3


def test_data_handling_comes_from_the_config_not_the_row(tmp_path: Path) -> None:
    path = _measured(tmp_path)
    _config_beside(tmp_path, {"anthropic.logging_enabled": True})
    figures = residency_figures(path)
    assert figures["eu_compliance_rate__k"] == 2
    assert "anthropic (stored true; judged: logging_enabled is true)" in str(
        figures["residency_verdict_mismatches"]
    )
