"""Config loading errors name the file, the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field, model_validator

from agent_platform.config import (
    YAML_LIMIT_BYTES,
    Settings,
    check_database_url,
    check_redis_url,
    config_value_error,
    load_yaml,
    load_yaml_model,
    project_root,
    redact_url,
)
from agent_platform.errors import ConfigError, InputFileError
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig


def _real(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((project_root() / relative).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _error(path: Path, model: type) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_yaml_model(path, model)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert info.value.file == str(path)
    return info.value


def test_shipped_configs_load() -> None:
    root = project_root()
    assert load_yaml_model(root / "configs/model_routing.yaml", RoutingConfig).providers
    assert load_yaml_model(root / "policies/finops.yaml", FinOpsConfig).phases


def test_missing_key(tmp_path: Path) -> None:
    data = _real("configs/model_routing.yaml")
    del data["weights"]
    error = _error(_write(tmp_path, "routing.yaml", data), RoutingConfig)
    assert error.key == "weights"
    assert error.value is None
    assert "required" in error.allowed


def test_wrong_type(tmp_path: Path) -> None:
    data = _real("configs/model_routing.yaml")
    data["weights"]["cost"] = "cheap"
    error = _error(_write(tmp_path, "routing.yaml", data), RoutingConfig)
    assert error.key == "weights.cost"
    assert error.value == "cheap"
    assert "number" in error.allowed


def test_negative_cap(tmp_path: Path) -> None:
    data = _real("policies/finops.yaml")
    first = next(iter(data["phases"]))
    data["phases"][first]["daily_eur_cap"] = -5
    error = _error(_write(tmp_path, "finops.yaml", data), FinOpsConfig)
    assert error.key == f"phases.{first}.daily_eur_cap"
    assert error.value == -5
    assert "greater than" in error.allowed


@pytest.mark.parametrize("field", ["preferred_provider", "fallback"])
def test_unknown_provider_in_task_types_names_the_exact_key(tmp_path: Path, field: str) -> None:
    data = _real("configs/model_routing.yaml")
    data["task_types"]["coding"][field] = "mystery"
    error = _error(_write(tmp_path, "routing.yaml", data), RoutingConfig)
    assert error.key == f"task_types.coding.{field}"
    assert error.value == "mystery"
    assert "'mystery'" in str(error)
    for known in data["providers"]:
        assert known in error.allowed


def test_cross_reference_errors_name_their_key(tmp_path: Path) -> None:
    data = _real("configs/model_routing.yaml")
    data["failover"]["fallback_provider"] = "ghost"
    error = _error(_write(tmp_path, "a.yaml", data), RoutingConfig)
    assert (error.key, error.value) == ("failover.fallback_provider", "ghost")
    data = _real("configs/model_routing.yaml")
    del data["task_types"]["review"]
    error = _error(_write(tmp_path, "b.yaml", data), RoutingConfig)
    assert (error.key, error.value) == ("task_types.review", None)
    data = _real("configs/model_routing.yaml")
    provider = next(iter(data["providers"]))
    del data["providers"][provider]["models"]["planning"]
    error = _error(_write(tmp_path, "c.yaml", data), RoutingConfig)
    assert error.key == f"providers.{provider}.models.planning"


class _Leaf(BaseModel):
    low: int
    high: int

    @model_validator(mode="after")
    def _ordered(self) -> _Leaf:
        if self.high < self.low:
            raise config_value_error(("high",), self.high, f"an int >= low ({self.low})")
        return self


class _Tree(BaseModel):
    leaves: dict[str, list[_Leaf]]


def test_config_value_error_path_is_relative_to_the_raising_model(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "tree.yaml", {"leaves": {"a": [{"low": 1, "high": 2}, {"low": 5, "high": 3}]}}
    )
    error = _error(path, _Tree)
    assert (error.key, error.value, error.allowed) == ("leaves.a.1.high", 3, "an int >= low (5)")
    assert str(error) == f"{path}: leaves.a.1.high: got 3; allowed: an int >= low (5)"


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as missing:
        load_yaml_model(tmp_path / "absent.yaml", RoutingConfig)
    assert str(missing.value) == f"file not found: {tmp_path / 'absent.yaml'} (YAML file)"
    broken = tmp_path / "broken.yaml"
    broken.write_text("weights: [unclosed\n", encoding="utf-8")
    assert _error(broken, RoutingConfig).allowed == "valid YAML"
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert _error(empty, RoutingConfig).key == "<root>"


def test_settings_default_to_embedded_backends(tmp_path: Path) -> None:
    settings = Settings.from_env({"AGENT_PLATFORM_HOME": str(tmp_path)})
    assert settings.database_backend == "sqlite" and settings.cache_backend == "memory"
    assert settings.effective_database_url.endswith(".data/agent_platform.sqlite3")
    configured = Settings.from_env(
        {
            "AGENT_PLATFORM_DATABASE_URL": "postgresql://u@h/db",
            "AGENT_PLATFORM_REDIS_URL": "redis://h:6379/0",
        }
    )
    assert configured.database_backend == "postgresql" and configured.cache_backend == "redis"


def test_settings_ignore_the_process_home_when_given_an_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_HOME", str(tmp_path))
    assert project_root() == tmp_path.resolve()
    assert Settings.from_env({}).root != tmp_path.resolve()
    assert Settings.from_env(
        {"AGENT_PLATFORM_DATABASE_URL": "postgres://h/db"}
    ).database_backend == ("postgresql")


def test_redact_url_hides_credentials_even_in_malformed_urls() -> None:
    assert redact_url("postgresql://admin:S3cret@db:5432/x") == "postgresql://***@db:5432/x"
    assert redact_url("mysql://admin:S3cret@db/x") == "mysql://***@db/x"
    assert redact_url("sqlite:///tmp/a.db") == "sqlite:///tmp/a.db"


def test_bad_database_url_error_does_not_print_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {
                "AGENT_PLATFORM_DATABASE_URL": "mysql://admin:S3cretPW@db/x",
                "AGENT_PLATFORM_HOME": ".",
            }
        )
    assert "S3cretPW" not in str(info.value)
    assert "AGENT_PLATFORM_DATABASE_URL" in str(info.value)
    assert "scheme 'mysql' is not supported" in str(info.value)


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql"),
        ("postgres://h/db", "postgresql"),
        ("postgresql+psycopg://h/db", "postgresql"),
        ("sqlite:///tmp/x.sqlite3", "sqlite"),
        ("sqlite://", "sqlite"),
    ],
)
def test_supported_database_urls(url: str, backend: str) -> None:
    assert check_database_url(url) == backend
    assert Settings.from_env({"AGENT_PLATFORM_DATABASE_URL": url}).database_backend == backend


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("mysql://db/x", "scheme 'mysql' is not supported"),
        ("postgresql+psycopg2://h/db", "scheme 'postgresql+psycopg2' is not supported"),
        ("::not a url::", "it does not parse"),
        ("postgresql://h:port/db", "it does not parse"),
        ("postgresql://h:70000/db", "a port in 1..65535"),
    ],
)
def test_unusable_database_urls(url: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"AGENT_PLATFORM_DATABASE_URL": url})
    assert info.value.file == "environment" and info.value.key == "AGENT_PLATFORM_DATABASE_URL"
    assert allowed in info.value.allowed


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("rediss://:pw@cache.example:6380/2", True),
        ("unix:///run/redis.sock", True),
        ("redis://", True),
        ("http://cache", False),
        ("cache:6379", False),
        ("redis://h:abc/0", False),
        ("redis://h/zero", False),
        ("unix://", False),
    ],
)
def test_redis_urls(url: str, ok: bool) -> None:
    if ok:
        assert check_redis_url(url) == url.split(":", 1)[0]
        return
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"AGENT_PLATFORM_REDIS_URL": url})
    assert info.value.key == "AGENT_PLATFORM_REDIS_URL" and "URL" in info.value.allowed


def test_an_undecodable_environment_value_is_refused_without_its_password() -> None:
    raw = b"postgresql://u:S3cretPW@h/caf\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"AGENT_PLATFORM_DATABASE_URL": raw})
    message = str(info.value)
    assert "valid UTF-8 text" in message and "\\xe9" in message and "S3cretPW" not in message


def test_redact_url_hides_a_password_given_as_a_query_parameter() -> None:
    url = "postgresql://h/db?sslmode=require&password=S3cret&x=1"
    assert redact_url(url) == "postgresql://h/db?sslmode=require&password=***&x=1"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: Path("/dev/zero"), "must be a regular file, not a device"),
        (lambda p: p, "must be a regular file, not a directory"),
        (
            lambda p: (p / "big.yaml", (p / "big.yaml").write_bytes(b"#" * (YAML_LIMIT_BYTES + 1)))[
                0
            ],
            f"allowed: at most {YAML_LIMIT_BYTES:,}",
        ),
        (lambda p: (p / "l.yaml", (p / "l.yaml").write_bytes(b"a: \xff\n"))[0], "not UTF-8"),
    ],
    ids=["device", "directory", "oversized", "not-utf8"],
)
def test_load_yaml_reads_only_bounded_regular_utf8_files(tmp_path: Path, make, reason: str) -> None:
    with pytest.raises(InputFileError, match=reason):
        load_yaml(make(tmp_path), what="config file")


def test_load_yaml_refuses_duplicate_keys_naming_file_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("weights:\n  cost: 0.5\n  cost: 0.7\n", encoding="utf-8")
    error = _error(path, RoutingConfig)
    assert (error.key, error.allowed.split(" (")[0]) == (
        "weights.cost (line 3)",
        "each key once per mapping",
    )


class _Named(BaseModel):
    name: str = Field(max_length=10)
    tags: dict[str, int]


def test_a_huge_rejected_value_is_clipped_before_it_is_rendered(tmp_path: Path) -> None:
    long_name = _write(tmp_path, "a.yaml", {"name": "n" * 500_000, "tags": {}})
    assert len(str(_error(long_name, _Named))) < 400
    many = _write(tmp_path, "b.yaml", {"name": "n", "tags": [f"t{i}" for i in range(100_000)]})
    error = _error(many, _Named)
    assert error.key == "tags" and len(str(error)) < 400 and "'t0'" in str(error)


def test_config_value_error_clips_what_it_shows() -> None:
    error = config_value_error(("a",), "v" * 1_000_000, "short text")
    assert len(str(error)) < 200
