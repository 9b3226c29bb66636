"""scripts/check_residency.py end to end: exit status, violations named, CSV written."""

from __future__ import annotations

import csv
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from agent_platform.config import project_root

ROOT = project_root()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/check_residency.py"), *args],
        cwd=ROOT,
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


def test_agent_platform_cli_runs_the_same_check(tmp_path: Path) -> None:
    from agent_platform.cli import main

    output = tmp_path / "dist.csv"
    assert main(["residency", "check", "--output", str(output)]) == 0
    assert _rows(output)[0]["vendor"] == "openai"
