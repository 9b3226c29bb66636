"""Config loading errors name the file, the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, model_validator

from agent_platform.config import Settings, config_value_error, load_yaml_model, project_root
from agent_platform.errors import ConfigError
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
    _error(tmp_path / "absent.yaml", RoutingConfig)
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
    from agent_platform.config import redact_url

    assert redact_url("postgresql://admin:S3cret@db:5432/x") == "postgresql://***@db:5432/x"
    assert redact_url("mysql://admin:S3cret@db/x") == "mysql://***@db/x"
    assert redact_url("sqlite:///tmp/a.db") == "sqlite:///tmp/a.db"


def test_bad_database_url_error_does_not_print_the_password() -> None:
    from agent_platform.config import Settings
    from agent_platform.errors import ConfigError
    from agent_platform.state.backends import open_backends

    settings = Settings.from_env(
        {"AGENT_PLATFORM_DATABASE_URL": "mysql://admin:S3cretPW@db/x", "AGENT_PLATFORM_HOME": "."}
    )
    with pytest.raises(ConfigError) as info:
        open_backends(settings)
    assert "S3cretPW" not in str(info.value)
    assert "AGENT_PLATFORM_DATABASE_URL" in str(info.value)
