"""Backend checks against real servers: the shared PostgreSQL and Redis, a private PostgreSQL with
SCRAM passwords, a private Redis with ``requirepass``; each failure is classified and one line."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine.url import make_url

from agent_platform._loopback import free_port
from agent_platform.cli import main
from agent_platform.config import Settings
from agent_platform.errors import ConfigError, StorageError
from agent_platform.preflight import (
    AUTH_FAILED,
    DATABASE_MISSING,
    NOT_WRITABLE,
    REDIS_NOAUTH,
    REDIS_WRONGPASS,
    REFUSED,
    TIMEOUT,
    check_backends,
    probe_backends,
)
from tests.support.postgres_server import PASSWORD, PrivatePostgres, private_postgres
from tests.support.servers import PrivateRedis, private_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

REDIS_PASSWORD = "private-redis-s3cret"


@pytest.fixture(scope="module")
def scram_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    folder = tmp_path_factory.mktemp("locked-redis")
    with private_redis(folder, ["--requirepass", REDIS_PASSWORD]) as server:
        yield server


def _settings(tmp_path: Path, database: str | None = None, redis: str | None = None) -> Settings:
    env = {"AGENT_PLATFORM_DATA_DIR": str(tmp_path / "data")}
    if database:
        env["AGENT_PLATFORM_DATABASE_URL"] = database
    if redis:
        env["AGENT_PLATFORM_REDIS_URL"] = redis
    return Settings.from_env(env)


def _failure(settings: Settings, kind: type[Exception], problem: str) -> str:
    """The one-line error check_backends raises, after checking its class and problem."""
    failed = [c for c in probe_backends(settings, timeout_s=2) if not c.ok]
    assert [c.problem for c in failed] == [problem], failed
    with pytest.raises(kind) as info:
        check_backends(settings, timeout_s=2)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600
    return message


def test_configured_backends_that_answer_pass(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    checks = check_backends(_settings(tmp_path, pg_url, redis_url))
    assert [(c.backend, c.ok, c.problem) for c in checks] == [
        ("database", True, ""),
        ("redis", True, ""),
    ]
    assert checks[0].detail == "SELECT 1 answered" and checks[1].detail == "PING answered"


def test_a_missing_database_is_named(tmp_path: Path, pg_url: str) -> None:
    name = f"ap_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    message = _failure(_settings(tmp_path, url), ConfigError, DATABASE_MISSING)
    assert message.startswith("environment: AGENT_PLATFORM_DATABASE_URL: got 'postgresql://")
    assert f'database "{name}" does not exist' in message and "an existing database" in message


def test_an_unknown_role_is_an_authentication_failure(tmp_path: Path, pg_url: str) -> None:
    url = make_url(pg_url).set(username="ap_no_such_role", password="pw")
    settings = _settings(tmp_path, url.render_as_string(hide_password=False))
    message = _failure(settings, ConfigError, AUTH_FAILED)
    assert 'role "ap_no_such_role" does not exist' in message


def test_a_wrong_postgres_password_is_an_authentication_failure(
    tmp_path: Path, scram_postgres: PrivatePostgres
) -> None:
    assert check_backends(_settings(tmp_path, scram_postgres.url()))[0].ok
    wrong = scram_postgres.url("not-the-password")
    message = _failure(_settings(tmp_path, wrong), ConfigError, AUTH_FAILED)
    assert "a user and password the server accepts" in message
    assert 'password authentication failed for user "postgres"' in message
    assert "not-the-password" not in message and PASSWORD not in message
    assert "CREATEDB" not in message


def test_no_postgres_password_is_an_authentication_failure(
    tmp_path: Path, scram_postgres: PrivatePostgres
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{scram_postgres.port}/postgres"
    assert "no password supplied" in _failure(_settings(tmp_path, url), ConfigError, AUTH_FAILED)


def test_nothing_listening_is_connection_refused(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://app:S3cret@127.0.0.1:{port}/x"
    message = _failure(_settings(tmp_path, url), StorageError, REFUSED)
    assert message.startswith(f"AGENT_PLATFORM_DATABASE_URL: postgresql://***@127.0.0.1:{port}/x")
    assert "S3cret" not in message


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        port = silent.getsockname()[1]
        url = f"postgresql://app:pw@127.0.0.1:{port}/x"
        assert "timed out" in _failure(_settings(tmp_path, url), StorageError, TIMEOUT)
        redis_url = f"redis://127.0.0.1:{port}/0"
        checks = probe_backends(_settings(tmp_path, redis=redis_url), timeout_s=1)
        assert (checks[1].ok, checks[1].problem) == (False, TIMEOUT)
    finally:
        silent.close()


def test_redis_without_its_password_is_noauth(tmp_path: Path, locked_redis: PrivateRedis) -> None:
    message = _failure(_settings(tmp_path, redis=locked_redis.url), ConfigError, REDIS_NOAUTH)
    assert message.startswith("environment: AGENT_PLATFORM_REDIS_URL: got 'redis://127.0.0.1:")
    assert "a URL carrying the password" in message


def test_redis_with_a_wrong_password_is_wrongpass(
    tmp_path: Path, locked_redis: PrivateRedis
) -> None:
    good = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{locked_redis.port}/0"
    assert check_backends(_settings(tmp_path, redis=good))[1].ok
    for wrong in ("wrong-password", "also:wrong"):
        user, _, password = wrong.rpartition(":")
        url = f"redis://{user}:{password}@127.0.0.1:{locked_redis.port}/0"
        message = _failure(_settings(tmp_path, redis=url), ConfigError, REDIS_WRONGPASS)
        assert "redis://***@127.0.0.1" in message and password not in message


def test_a_redis_database_number_out_of_range(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/9999"
    assert "DB index is out of range" in _failure(
        _settings(tmp_path, redis=url), ConfigError, DATABASE_MISSING
    )


def test_redis_down_is_connection_refused(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    message = _failure(_settings(tmp_path, redis=url), StorageError, REFUSED)
    assert message.startswith("AGENT_PLATFORM_REDIS_URL: redis://127.0.0.1:")


def test_the_embedded_sqlite_file_is_not_created_by_the_check(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    checks = check_backends(settings)
    assert (
        checks[0].variable == "AGENT_PLATFORM_DATA_DIR"
        and "created on first use" in checks[0].detail
    )
    assert not (tmp_path / "data").exists()


def test_an_existing_sqlite_database_answers(tmp_path: Path, sqlite_url: str) -> None:
    assert check_backends(_settings(tmp_path, sqlite_url))[0].detail.endswith("answered")


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    message = _failure(_settings(tmp_path, f"sqlite:///{junk}"), ConfigError, NOT_WRITABLE)
    assert "file is not a database" in message


def test_a_data_folder_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    settings = Settings.from_env({"AGENT_PLATFORM_DATA_DIR": str(tmp_path / "plain" / "data")})
    message = _failure(settings, ConfigError, NOT_WRITABLE)
    assert message.startswith("environment: AGENT_PLATFORM_DATA_DIR: got 'sqlite:///")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AGENT_PLATFORM_DATABASE_URL", "AGENT_PLATFORM_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _cli_error(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    return captured.err.strip()


def test_commands_meet_a_wrong_password_in_one_line(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scram_postgres: PrivatePostgres,
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", scram_postgres.url("Wr0ng-Pw"))
    for argv in (["migrate"], ["budget", "status"], ["replay", "any-run"]):
        err = _cli_error(capsys, argv, 2)
        assert err.startswith("agent-platform: error: environment: AGENT_PLATFORM_DATABASE_URL")
        assert "authentication failed" in err and "Wr0ng-Pw" not in err


def test_budget_status_meets_a_locked_redis_in_one_line(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    locked_redis: PrivateRedis,
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_REDIS_URL", locked_redis.url)
    err = _cli_error(capsys, ["budget", "status"], 2)
    assert "AGENT_PLATFORM_REDIS_URL" in err and "NOAUTH" in err


def test_commands_meet_a_database_that_is_down_in_one_line(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", f"postgresql://u@127.0.0.1:{free_port()}/x")
    assert main(["migrate", "--json"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err
    assert err.startswith("agent-platform: StorageError: AGENT_PLATFORM_DATABASE_URL: ")
    assert "connection refused" in err
    assert json.loads(captured.out)["error"]["type"] == "StorageError"
