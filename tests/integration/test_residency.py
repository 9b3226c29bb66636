"""scripts/check_residency.py end to end: exit status, violations named, CSV written.

Also: a file in the specification's own format (no ``policy:``) judged on its content; the
default CSV outside the gate's evidence and the refusal to overwrite it; ``--json``.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent_platform.cli import main
from agent_platform.config import project_root

ROOT = project_root()


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/check_residency.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_shipped_configs_pass_and_write_the_csv(tmp_path: Path) -> None:
    output = tmp_path / "metrics/compliance/vendor_region_distribution.csv"
    result = _run("--output", str(output))
    assert result.returncode == 0, result.stderr
    header = output.read_text().splitlines()[0]
    assert header == "vendor,region,endpoint_host,eu_compliant,reason"
    assert stat.S_IMODE(output.stat().st_mode) == 0o644
    rows = _rows(output)
    assert {r["vendor"] for r in rows} == {"openai", "anthropic", "local"}
    assert all(r["eu_compliant"] == "true" and r["reason"] == "compliant" for r in rows)


def test_global_endpoint_and_unknown_provider_fail_naming_each(tmp_path: Path) -> None:
    residency = yaml.safe_load((ROOT / "configs/vendor_residency.yaml").read_text())
    residency["vendors"]["openai"].update(region="eu-west-1", endpoint="https://api.openai.com/v1")
    config = tmp_path / "vendor_residency.yaml"
    config.write_text(yaml.safe_dump(residency))
    routing = tmp_path / "model_routing.yaml"
    routing.write_text(
        yaml.safe_dump({"providers": {"openai": {}, "anthropic": {}, "mistral": {}}})
    )
    output = tmp_path / "dist.csv"
    result = _run("--config", str(config), "--routing", str(routing), "--output", str(output))
    assert result.returncode == 1
    assert "residency violation: openai: endpoint host 'api.openai.com'" in result.stderr
    assert "residency violation: mistral: no residency entry for this provider" in result.stderr
    verdicts = {r["vendor"]: r["eu_compliant"] for r in _rows(output)}
    assert verdicts == {"openai": "false", "anthropic": "true", "local": "true", "mistral": "false"}


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "vendor_residency.yaml"
    config.write_text("vendors: {}\n")
    result = _run("--config", str(config), "--output", str(tmp_path / "x.csv"))
    assert result.returncode == 2
    assert "enforcement" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_agent_platform_cli_runs_the_same_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "dist.csv"
    assert main(["residency", "check", "--output", str(output)]) == 0
    assert _rows(output)[0]["vendor"] == "openai"
    assert "residency: PASS" in capsys.readouterr().out
    assert main(["residency", "check", "--output", str(output), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["status"] == "PASS" and result["csv"] == str(output)
    assert [v["vendor"] for v in result["vendors"]] == ["openai", "anthropic", "local"]
    assert "residency: PASS" in captured.err


SPECIFICATION_FORMAT = {
    "vendors": {
        "openai": {
            "region": "eu-west-1",
            "endpoint": "https://api.openai.com/v1",
            "data_retention": False,
            "training_data_opt_out": True,
            "logging_enabled": False,
            "compliance": ["GDPR", "EU AI Act"],
        },
        "anthropic": {
            "region": "eu-central-1",
            "endpoint": "https://api.anthropic.com/v1",
            "data_retention": False,
            "training_data_opt_out": True,
            "logging_enabled": False,
        },
        "local": {
            "region": "on-premise",
            "endpoint": "http://localhost:8080",
            "data_retention": True,
            "training_data_opt_out": True,
            "logging_enabled": True,
        },
    },
    "enforcement": {
        "block_non_eu_requests": True,
        "alert_on_violation": True,
        "log_all_requests": True,
    },
}


def test_the_specifications_own_format_is_judged_not_refused(tmp_path: Path) -> None:
    config = tmp_path / "vendor_residency.yaml"
    config.write_text(yaml.safe_dump(SPECIFICATION_FORMAT, sort_keys=False))
    output = tmp_path / "dist.csv"
    result = _run("--config", str(config), "--output", str(output))
    assert result.returncode == 1, result.stderr
    violations = [line for line in result.stderr.splitlines() if "violation" in line]
    assert len(violations) == 2
    assert "residency violation: openai: endpoint host 'api.openai.com'" in violations[0]
    assert "residency violation: anthropic: endpoint host 'api.anthropic.com'" in violations[1]
    verdicts = {r["vendor"]: (r["endpoint_host"], r["eu_compliant"]) for r in _rows(output)}
    assert verdicts == {
        "openai": ("api.openai.com", "false"),
        "anthropic": ("api.anthropic.com", "false"),
        "local": ("localhost", "true"),
    }


def test_default_csv_is_not_gate_evidence_and_evidence_needs_force(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "AGENT_PLATFORM_HOME": str(home)}
    configs = ["--config", str(ROOT / "configs/vendor_residency.yaml")]
    configs += ["--routing", str(ROOT / "configs/model_routing.yaml")]
    done = _run(*configs, env=env)
    assert done.returncode == 0, done.stderr
    assert (home / ".data/reports/vendor_region_distribution.csv").is_file()
    evidence = home / "metrics/compliance/vendor_region_distribution.csv"
    refused = _run(*configs, "--output", str(evidence), env=env)
    assert refused.returncode == 2 and "is gate evidence" in refused.stderr
    assert "--force" in refused.stderr and not evidence.exists()
    assert _run(*configs, "--output", str(evidence), "--force", env=env).returncode == 0
    assert evidence.is_file()
