"""``agent-platform doctor`` end to end: settings, unknown variables and backend checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from agent_platform.cli import main
from tests.support.servers import private_redis

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AGENT_PLATFORM_* variable but the data folder under tmp_path."""
    for name in list(os.environ):
        if name.startswith("AGENT_PLATFORM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _doctor_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object], str]:
    code = main(["doctor", "--json", "--timeout", "2"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_doctor_passes_on_the_embedded_default(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, human = _doctor_json(capsys)
    assert code == 0 and report["ok"] is True and report["problems"] == []
    assert report["settings"]["database"] == "sqlite"  # type: ignore[index]
    assert [b["backend"] for b in report["backends"]] == ["database"]  # type: ignore[union-attr]
    assert "all checks passed" in human and "database  ok" in human


def test_doctor_names_a_misspelled_variable_and_hides_passwords(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pg_url: str,
    redis_url: str,
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", pg_url.replace("postgres@", "postgres:pw@"))
    monkeypatch.setenv("AGENT_PLATFORM_REDIS_URL", redis_url)
    monkeypatch.setenv("AGENT_PLATFORM_REDIS_URI", "redis://typo:6379/0")
    assert main(["doctor", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "AGENT_PLATFORM_REDIS_URI is not a variable agent_platform reads; did you mean " in out
    assert "AGENT_PLATFORM_REDIS_URL?" in out
    assert "database  ok" in out and "redis     ok" in out
    assert ":pw@" not in out and "1 problem(s)" in out


def test_doctor_reports_a_wrong_redis_password(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with private_redis(clean_env / "redis", ["--requirepass", "right"]) as server:
        url = f"redis://:Wr0ngPw-xyz@127.0.0.1:{server.port}/0"
        monkeypatch.setenv("AGENT_PLATFORM_REDIS_URL", url)
        code, report, human = _doctor_json(capsys)
    assert code == 1 and report["ok"] is False
    redis_check = report["backends"][1]  # type: ignore[index]
    assert (redis_check["ok"], redis_check["problem"]) == (
        False,
        "Redis refused the password (WRONGPASS)",
    )
    assert report["problems"] == [
        f"environment: AGENT_PLATFORM_REDIS_URL: got 'redis://***@127.0.0.1:{server.port}/0'; "
        f"allowed: the user and password the Redis server expects (Redis refused the password "
        f"(WRONGPASS): {redis_check['detail']})"
    ]
    assert "Wr0ngPw-xyz" not in json.dumps(report) + human
    assert "FAILED (Redis refused the password (WRONGPASS))" in human


def test_doctor_reports_a_bad_scheme_without_a_traceback(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", "mysql://admin:S3cret@db/x")
    code, report, human = _doctor_json(capsys)
    assert code == 1 and report["settings"] is None and report["backends"] == []
    assert report["problems"][0].startswith(  # type: ignore[index]
        "environment: AGENT_PLATFORM_DATABASE_URL: got 'mysql://***@db/x'"
    )
    assert "S3cret" not in human + json.dumps(report) and "Traceback" not in human


def test_variables_a_notifications_config_names_are_known(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = clean_env / "home"
    (home / "configs").mkdir(parents=True)
    hook = {"name": "pager", "type": "webhook", "url_env": "AGENT_PLATFORM_PAGER_URL"}
    config = {"destinations": [{**hook, "secret_env": "AGENT_PLATFORM_PAGER_SECRET"}]}
    (home / "configs/notifications.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("AGENT_PLATFORM_HOME", str(home))
    monkeypatch.setenv("AGENT_PLATFORM_PAGER_SECRET", "whsec_x")
    monkeypatch.setenv("AGENT_PLATFORM_PAGER_TOKEN", "x")
    code, report, _ = _doctor_json(capsys)
    assert code == 1
    unknown = report["unknown_variables"]
    assert [u["name"] for u in unknown] == ["AGENT_PLATFORM_PAGER_TOKEN"]  # type: ignore[union-attr, index]
