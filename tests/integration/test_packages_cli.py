"""``scripts/verify_packages.py`` and ``agent-platform packages verify`` end to end.

Every run talks only to the loopback registry of tests/support/registry_server.py (the OSV API
is pointed at a closed port, so advisories come from the packaged snapshot). Covers: exit codes
and the report; known-vulnerable pins named with their advisory ids, and the gate figure equal
to the report's; every way the lockfile check could be sidestepped (unhashed pins, index
overrides, empty lockfiles, non-registry uv.lock sources, unreadable files); the default report
location and the refusal to overwrite gate evidence; ``--json``; a clone somewhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_platform.cli import main
from agent_platform.config import project_root
from agent_platform.evidence.formats.compliance import package_figures
from agent_platform.schemas.supply_chain import SupplyChainConfig
from tests.support.registry_server import (
    FIXTURES,
    RegistryServer,
    closed_port_url,
    registry_server,
    supply_chain_config,
)

ROOT = project_root()
SNAPSHOT_LABEL = "Python Packaging Advisory Database snapshot 3ccb612 of 2024-10-10"
CLEAN = FIXTURES / "lockfiles/clean.requirements.lock"


@pytest.fixture
def server() -> Iterator[RegistryServer]:
    with registry_server() as running:
        yield running


def _pin(server: RegistryServer, name: str, version: str) -> str:
    hashes = [f["digests"]["sha256"] for f in server.pypi[name]["releases"][version]]
    return f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n"


def _config(tmp_path: Path, server: RegistryServer, **policy: Any) -> Path:
    """A config file aimed at the loopback registry, the OSV API unreachable."""
    config = supply_chain_config(server.url, tmp_path / "cache", osv_url=closed_port_url())
    data = config.model_dump(mode="json")
    data["policy"]["findings"] |= policy
    path = tmp_path / "supply_chain.yaml"
    path.write_text(yaml.safe_dump(SupplyChainConfig.model_validate(data).model_dump(mode="json")))
    return path


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/verify_packages.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _verify(tmp_path: Path, config: Path, text: str, name: str = "requirements.lock") -> Any:
    lock = tmp_path / name
    lock.write_text(text)
    output = tmp_path / "out/pkg_reality_report.md"
    return _run("--lockfile", str(lock), "--config", str(config), "--output", str(output))


def test_exit_codes_follow_the_verdict_and_the_report_is_written(
    server: RegistryServer, tmp_path: Path
) -> None:
    output = tmp_path / "out/pkg_reality_report.md"
    good = _config(tmp_path, server)
    ok = _run("--lockfile", str(CLEAN), "--config", str(good), "--output", str(output))
    assert ok.returncode == 0, ok.stderr
    assert "PASS" in ok.stdout and output.with_suffix(".json").exists()
    assert "| Status | **PASS** |" in output.read_text()
    bad = _verify(tmp_path, good, "flask>=2\n")
    assert bad.returncode == 2 and ":1:" in bad.stderr and "Traceback" not in bad.stderr


def test_known_vulnerable_pins_fail_naming_each_advisory_and_the_gate_agrees(
    server: RegistryServer, tmp_path: Path
) -> None:
    pins = [("requests", "2.19.1"), ("urllib3", "1.24.1"), ("jinja2", "2.10")]
    config = _config(tmp_path, server)
    lock = tmp_path / "requirements.lock"
    lock.write_text("".join(_pin(server, n, v) for n, v in pins))
    output = tmp_path / "out/pkg_reality_report.md"
    done = _run("--lockfile", str(lock), "--config", str(config), "--output", str(output), "--json")
    assert done.returncode == 1, done.stderr
    for name, version, advisory in [
        ("requests", "2.19.1", "PYSEC-2023-74"),
        ("urllib3", "1.24.1", "PYSEC-2019-132"),
        ("jinja2", "2.10", "PYSEC-2019-217"),
    ]:
        assert f"advisory: {name}=={version}: {advisory} " in done.stderr
        assert SNAPSHOT_LABEL in done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "FAIL" and summary["unverified"] == 0
    assert summary["blocking_vulnerabilities"] == 11
    figures = package_figures(output.with_suffix(".json"))
    assert figures["blocking_vulnerabilities"] == summary["blocking_vulnerabilities"]
    assert figures["advisory_snapshot_date"] == "2024-10-10"
    assert figures["advisory_snapshot_stale"] == "yes"
    assert isinstance(figures["advisory_snapshot_age_days"], int)
    assert figures["advisory_snapshot_age_days"] > 700
    assert server.count("/v1/") == 0 and server.count("/pypi/") == 3  # the registry only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("certifi==2024.8.30\n", "requirements.lock:1: no hash pinned"),
        ("--extra-index-url https://evil.example/simple\n{clean}", "lockfile: fail: "),
        ("{clean}-i https://evil.example/simple\n", "requirements.lock:2: --index-url "),
        ("{clean}--find-links=./wheels\n", "requirements.lock:2: --find-links './wheels'"),
        ("{clean}--trusted-host evil.example\n", "requirements.lock:2: --trusted-host "),
        ("", "pins no package"),
        ("# nothing pinned here\n\n", "pins no package"),
    ],
    ids=["no-hash", "extra-index", "short-i", "find-links", "trusted-host", "empty", "comments"],
)
def test_the_lockfile_check_cannot_be_sidestepped(
    server: RegistryServer, tmp_path: Path, text: str, expected: str
) -> None:
    clean = _pin(server, "certifi", "2024.8.30")
    done = _verify(tmp_path, _config(tmp_path, server), text.format(clean=clean))
    assert done.returncode == 1, done.stdout
    assert expected in done.stderr
    assert "| Status | **FAIL** |" in (tmp_path / "out/pkg_reality_report.md").read_text()


def test_index_lines_follow_the_policy_and_the_allowed_indexes(
    server: RegistryServer, tmp_path: Path
) -> None:
    clean = _pin(server, "certifi", "2024.8.30")
    warned = _verify(tmp_path, _config(tmp_path, server, index_override="warn"), f"-f ./w\n{clean}")
    assert warned.returncode == 0 and "lockfile: warn: " in warned.stderr
    pypi = _verify(tmp_path, _config(tmp_path, server), f"-i https://pypi.org/simple/\n{clean}")
    assert pypi.returncode == 0 and "lockfile:" not in pypi.stderr


def test_uv_lock_sources_other_than_the_registry_are_policy_decided(
    server: RegistryServer, tmp_path: Path
) -> None:
    text = (FIXTURES / "lockfiles/uv.lock").read_text()
    strict = _verify(tmp_path, _config(tmp_path, server), text, "uv.lock")
    assert strict.returncode == 1
    assert "unverified: vendored-tool==0.3.0: " in strict.stderr
    assert "not from a registry (git https://example.invalid/tool.git" in strict.stderr
    assert "fixture-app" not in strict.stderr  # the project itself (editable root) is fine
    lenient = _config(tmp_path, server, non_registry_source="warn")
    assert _verify(tmp_path, lenient, text, "uv.lock").returncode == 0
    mirror = text.replace('registry = "https://pypi.org/simple"', 'registry = "https://m.example"')
    moved = _verify(tmp_path, lenient, mirror, "uv.lock")
    assert moved.returncode == 1 and "locked from index https://m.example" in moved.stderr


def test_unreadable_lockfiles_are_one_line_exit_2(server: RegistryServer, tmp_path: Path) -> None:
    config = _config(tmp_path, server)
    lock = tmp_path / "requirements.lock"
    lock.write_bytes(b"caf\xe9==1.0\n")
    output = tmp_path / "out.md"
    for argv in (
        ["--lockfile", str(lock), "--config", str(config), "--output", str(output)],
        ["--lockfile", str(tmp_path), "--config", str(config), "--output", str(output)],
    ):
        done = _run(*argv)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert "not UTF-8" in _run("--lockfile", str(lock), "--config", str(config)).stderr
    assert not output.exists()


def test_default_report_is_not_gate_evidence_and_evidence_needs_force(
    server: RegistryServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "AGENT_PLATFORM_HOME": str(home)}
    args = ["--lockfile", str(CLEAN), "--config", str(_config(tmp_path, server))]
    done = _run(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert (home / ".data/reports/pkg_reality_report.md").is_file()
    assert (home / ".data/reports/pkg_reality_report.json").is_file()
    evidence = home / "evidence/pkg_reality_report.md"
    refused = _run(*args, "--output", str(evidence), env=env)
    assert refused.returncode == 2 and "is gate evidence" in refused.stderr
    assert "--force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not evidence.exists()
    forced = _run(*args, "--output", str(evidence), "--force", env=env)
    assert forced.returncode == 0 and evidence.is_file()


def test_json_mode_prints_one_document_and_keeps_words_on_stderr(
    server: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "r.md"
    config = str(_config(tmp_path, server))
    argv = ["packages", "verify", "--lockfile", str(CLEAN), "--config", config]
    assert main([*argv, "--output", str(output), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert (result["status"], result["total"], result["report"]) == ("PASS", 3, str(output))
    assert result["advisory_snapshot"]["date"] == "2024-10-10"
    assert "package reality: PASS" in captured.err and "Advisory data:" in captured.err
    assert main([*argv, "--output", str(ROOT / "evidence/x.md"), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 2 and "is gate evidence" in error["error"]["message"]


def test_the_packaged_snapshot_works_in_a_clone_elsewhere_and_fails_closed_when_damaged(
    server: RegistryServer, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(
        ROOT / "agent_platform",
        clone / "agent_platform",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (clone / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts/verify_packages.py", clone / "scripts")
    (clone / "configs").mkdir()
    shutil.copy2(_config(tmp_path, server), clone / "configs/supply_chain.yaml")
    lock = tmp_path / "requirements.lock"
    lock.write_text(_pin(server, "jinja2", "3.1.4"))
    env = {k: v for k, v in os.environ.items() if k != "AGENT_PLATFORM_HOME"}
    env["PYTHONPATH"] = str(clone)  # import the clone's package, not this checkout's
    output = tmp_path / "out/report.md"
    script = [sys.executable, str(clone / "scripts/verify_packages.py")]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*script, "--lockfile", str(lock), "--output", str(output)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ok = run()
    assert ok.returncode == 0, ok.stderr
    data = json.loads(output.with_suffix(".json").read_text())
    (snapshot,) = [s for s in data["runs"][0]["sources"] if s["kind"] == "advisory snapshot"]
    assert Path(snapshot["location"]).parent == clone / "agent_platform/data/advisories"
    assert data["advisory_sources"] == SNAPSHOT_LABEL
    (clone / "agent_platform/data/advisories/manifest.json").unlink()
    damaged = run()
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr
    assert "unverified: jinja2==3.1.4: advisories not checked" in damaged.stderr
    assert f"{clone}/agent_platform/data/advisories/manifest.json does not exist" in damaged.stderr
