"""Typed loading of ``configs/`` and ``policies/`` plus the environment settings.

Configs are validated when loaded, never later: a bad file raises :class:`ConfigError` naming the
file, the dotted key, the value and what is allowed, so the CLI can print one line and exit 2.
The schemas live in :mod:`agent_platform.schemas`, one module per file family; this module only
knows how to read YAML and translate pydantic's errors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from agent_platform.errors import ConfigError

__all__ = [
    "CONFIG_VALUE_ERROR",
    "Settings",
    "checkout_root",
    "config_value_error",
    "load_yaml",
    "load_yaml_model",
    "project_root",
    "redact_url",
    "translate_validation_error",
]

M = TypeVar("M", bound=BaseModel)

DATABASE_URL_ENV = "AGENT_PLATFORM_DATABASE_URL"
REDIS_URL_ENV = "AGENT_PLATFORM_REDIS_URL"
HOME_ENV = "AGENT_PLATFORM_HOME"
DATA_DIR_ENV = "AGENT_PLATFORM_DATA_DIR"

CONFIG_VALUE_ERROR = "config_value"
"""The pydantic error type of :func:`config_value_error`."""


def checkout_root() -> Path:
    """The checkout this package was imported from (``alembic.ini``, ``migrations/``)."""
    return Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The folder holding ``configs/`` and ``policies/``.

    ``AGENT_PLATFORM_HOME`` wins; otherwise the checkout this package was imported from.
    """
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).resolve()
    return checkout_root()


@dataclass(frozen=True)
class Settings:
    """Backend selection from the environment.

    ``database_url`` None means the embedded SQLite file; ``redis_url`` None means the
    in-process TTL cache. Both are read once, when :meth:`from_env` is called, never at import.
    """

    root: Path
    database_url: str | None
    redis_url: str | None
    data_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        root = Path(env[HOME_ENV]).resolve() if env.get(HOME_ENV) else checkout_root()
        data_dir = Path(env[DATA_DIR_ENV]) if env.get(DATA_DIR_ENV) else root / ".data"
        return cls(
            root=root,
            database_url=env.get(DATABASE_URL_ENV) or None,
            redis_url=env.get(REDIS_URL_ENV) or None,
            data_dir=data_dir,
        )

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'agent_platform.sqlite3'}"

    @property
    def database_backend(self) -> str:
        """``postgresql`` or ``sqlite`` (the URL's scheme without its driver)."""
        scheme = self.effective_database_url.split(":", 1)[0].split("+", 1)[0]
        return "postgresql" if scheme == "postgres" else scheme

    @property
    def cache_backend(self) -> str:
        """``redis`` when a Redis URL is set, else ``memory``."""
        return "redis" if self.redis_url else "memory"

    def config_path(self, relative: str) -> Path:
        """``relative`` (such as ``configs/model_routing.yaml``) under the project root."""
        return self.root / relative


_USERINFO = re.compile(r"(//)[^/@]*@")


def redact_url(url: str) -> str:
    """``url`` with any user and password replaced, for error messages, logs and evidence.

    Works on text that is not a valid URL too, since the error path is exactly where a
    malformed URL shows up.
    """
    return _USERINFO.sub(r"\1***@", url)


def load_yaml(path: Path) -> Any:
    """Read one YAML document; a missing or unparsable file is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(str(path), "<file>", None, "an existing, readable YAML file") from exc
    except OSError as exc:
        raise ConfigError(str(path), "<file>", str(exc), "a readable YAML file") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<document>"
        raise ConfigError(
            str(path), where, getattr(exc, "problem", str(exc)), "valid YAML"
        ) from exc


def config_value_error(
    path: Sequence[str | int], value: object, allowed: str
) -> PydanticCustomError:
    """An error for a model validator to raise so the :class:`ConfigError` names the exact key.

    A validator that checks several fields together (a reference from one section to another)
    is reported by pydantic at the model's own location; raising this instead names the
    offending key. ``path`` is relative to the model whose validator raises it.

    Args:
        path: the key below the model, as parts (``("task_types", "coding", "fallback")``).
        value: the offending value (None when the key is missing).
        allowed: what would be accepted, in words.
    """
    parts = tuple(path)
    return PydanticCustomError(
        CONFIG_VALUE_ERROR,
        "{key}: got {shown}; allowed: {allowed}",
        {
            "path": parts,
            "key": ".".join(str(p) for p in parts),
            "value": value,
            "shown": repr(value),
            "allowed": allowed,
        },
    )


def translate_validation_error(file: str, exc: ValidationError, data: Any) -> ConfigError:
    """Turn pydantic's first error into a one-line :class:`ConfigError`."""
    first = exc.errors()[0]
    loc = tuple(first.get("loc", ()))
    ctx = first.get("ctx") or {}
    if first.get("type") == CONFIG_VALUE_ERROR:
        full = loc + tuple(ctx["path"])
        return ConfigError(file, _dotted(full), ctx["value"], str(ctx["allowed"]))
    key = _dotted(loc)
    value = first.get("input", _lookup(data, loc))
    if first.get("type") == "missing":
        value = None
        allowed = "a value (the key is required)"
    else:
        allowed = str(first.get("msg", "a valid value"))
        allowed = allowed.removeprefix("Value error, ")
    return ConfigError(file, key, value, allowed)


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    current = data
    for part in loc:
        if (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            current = current[part]
        else:
            return None
    return current


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Load ``path`` and validate it into ``model``; errors name file, key, value, allowed."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(str(path), "<root>", None, f"a mapping for {model.__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise translate_validation_error(str(path), exc, data) from exc
