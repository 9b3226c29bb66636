"""The environment registry: known variables, misspelled ones, and what may be shown."""

from __future__ import annotations

import re
import subprocess

import pytest
import redis

from agent_platform.config import checkout_root
from agent_platform.errors import ConfigError, StorageError
from agent_platform.preflight import (
    AUTH_FAILED,
    DATABASE_MISSING,
    ENV_PREFIX,
    ENV_VARS,
    FAILED,
    REDIS_NOAUTH,
    REDIS_WRONGPASS,
    REFUSED,
    TIMEOUT,
    UNKNOWN_HOST,
    UNREACHABLE,
    BackendCheck,
    _classify_postgres,
    _classify_redis,
    describe_environment,
    register_env_var,
    unknown_variables,
)


def test_every_variable_the_checkout_reads_is_registered() -> None:
    """Grep the code, scripts, configs and docs for AGENT_PLATFORM_* names: each is known."""
    root = checkout_root()
    tracked = ["agent_platform", "jobs", "assets", "scripts", "bench", "configs", "policies"]
    tracked += ["tests/support", "tests/conftest.py", "README.md", "docs", "Makefile", "deploy"]
    listed = subprocess.run(
        ["git", "ls-files", *tracked, ".ci"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    names: set[str] = set()
    for relative in listed:
        path = root / relative
        if path.is_file() and path.suffix in {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ""}:
            text = path.read_text(encoding="utf-8", errors="replace")
            names |= set(re.findall(r"\bAGENT_PLATFORM_[A-Z][A-Z0-9_]*[A-Z0-9]\b", text))
    assert len(names) >= 10
    assert sorted(names - set(ENV_VARS)) == []
    assert {"AGENT_PLATFORM_LEDGER_KEY", "AGENT_PLATFORM_LEDGER_CHECKPOINTS"} <= set(ENV_VARS)


def test_every_registered_variable_says_what_it_is_for() -> None:
    for var in ENV_VARS.values():
        assert var.name.startswith(ENV_PREFIX) and len(var.description) > 10


def test_a_misspelled_variable_is_named_with_the_closest_known_one() -> None:
    env = {
        "AGENT_PLATFORM_DATABSE_URL": "postgresql://h/db",
        "AGENT_PLATFORM_REDIS_URL": "redis://h/0",
        "AGENT_PLATFORM_SOMETHING_ELSE": "1",
        "PATH": "/bin",
    }
    found = unknown_variables(env)
    assert [(u.name, u.suggestion) for u in found] == [
        ("AGENT_PLATFORM_DATABSE_URL", "AGENT_PLATFORM_DATABASE_URL"),
        ("AGENT_PLATFORM_SOMETHING_ELSE", None),
    ]
    assert found[0].message() == (
        "AGENT_PLATFORM_DATABSE_URL is not a variable agent_platform reads; "
        "did you mean AGENT_PLATFORM_DATABASE_URL?"
    )


def test_names_a_config_refers_to_are_not_unknown() -> None:
    env = {"AGENT_PLATFORM_PAGER_SECRET": "x"}
    assert unknown_variables(env, also_known={"AGENT_PLATFORM_PAGER_SECRET"}) == []
    assert [u.name for u in unknown_variables(env)] == ["AGENT_PLATFORM_PAGER_SECRET"]


def test_register_env_var_extends_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent_platform.preflight.ENV_VARS", dict(ENV_VARS))
    from agent_platform import preflight

    register_env_var("AGENT_PLATFORM_NEW_THING", "a setting another module reads")
    assert "AGENT_PLATFORM_NEW_THING" in preflight.ENV_VARS
    assert unknown_variables({"AGENT_PLATFORM_NEW_THING": "1"}) == []
    with pytest.raises(ValueError, match="start with AGENT_PLATFORM_"):
        register_env_var("OTHER_THING", "not ours")


def test_describe_environment_hides_secrets_and_credentials() -> None:
    env = {
        "AGENT_PLATFORM_DATABASE_URL": "postgresql://app:S3cret@db:5432/x",
        "AGENT_PLATFORM_LEDGER_KEY": "k3y-material",
        "AGENT_PLATFORM_HOME": "/srv/ap",
    }
    shown = {row["name"]: row["value"] for row in describe_environment(env)}
    assert shown == {
        "AGENT_PLATFORM_HOME": "/srv/ap",
        "AGENT_PLATFORM_DATABASE_URL": "postgresql://***@db:5432/x",
        "AGENT_PLATFORM_LEDGER_KEY": "(set, hidden)",
    }


def _check(problem: str) -> BackendCheck:
    target = "postgresql://***@h/x"
    variable = "AGENT_PLATFORM_DATABASE_URL"
    return BackendCheck("database", variable, target, False, problem, "driver words", 1.0)


def test_environment_problems_are_config_errors_and_outages_storage_errors() -> None:
    auth = _check(AUTH_FAILED).error()
    assert isinstance(auth, ConfigError)
    assert str(auth) == (
        "environment: AGENT_PLATFORM_DATABASE_URL: got 'postgresql://***@h/x'; allowed: a user "
        "and password the server accepts (authentication failed: driver words)"
    )
    for problem in (REFUSED, TIMEOUT):
        outage = _check(problem).error()
        assert isinstance(outage, StorageError)
        assert str(outage) == (
            f"AGENT_PLATFORM_DATABASE_URL: postgresql://***@h/x: {problem}: driver words"
        )
    passed = BackendCheck("redis", "AGENT_PLATFORM_REDIS_URL", "redis://h/0", True, "", "", 1.0)
    assert passed.error() is None


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        ("failed to resolve host 'db.example': [Errno -2] Name or service not known", UNKNOWN_HOST),
        ('connection to server at "192.0.2.9", port 5432 failed: No route to host', UNREACHABLE),
        ('FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "app"', AUTH_FAILED),
        ('FATAL:  permission denied for database "x"', FAILED),
        ('FATAL:  database "x" does not exist', DATABASE_MISSING),
    ],
)
def test_postgres_words_are_classified(words: str, problem: str) -> None:
    assert _classify_postgres(RuntimeError(words)) == problem


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (
            redis.ConnectionError("Error -2 connecting to c:6379. Name or service not known."),
            UNKNOWN_HOST,
        ),
        (redis.AuthenticationError("NOAUTH Authentication required."), REDIS_NOAUTH),
        (redis.AuthenticationError("WRONGPASS invalid username-password pair"), REDIS_WRONGPASS),
        (
            redis.ConnectionError("Error 2 connecting to /r.sock. No such file or directory."),
            UNREACHABLE,
        ),
        (redis.TimeoutError("Timeout reading from socket"), TIMEOUT),
        (redis.ResponseError("LOADING Redis is loading the dataset in memory"), FAILED),
    ],
)
def test_redis_errors_are_classified(error: Exception, problem: str) -> None:
    assert _classify_redis(error) == problem
