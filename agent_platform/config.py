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
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError

from agent_platform.errors import ConfigError
from agent_platform.inputs import clip, read_text_bounded, shorten
from agent_platform.yaml_input import YAMLRefused, parse_yaml

__all__ = [
    "CONFIG_VALUE_ERROR",
    "DATABASE_DRIVERS",
    "REDIS_SCHEMES",
    "YAML_LIMIT_BYTES",
    "Settings",
    "check_database_url",
    "check_redis_url",
    "checkout_root",
    "config_value_error",
    "load_yaml",
    "load_yaml_model",
    "parse_yaml_text",
    "project_root",
    "redact_url",
    "translate_validation_error",
]

M = TypeVar("M", bound=BaseModel)

DATABASE_URL_ENV = "AGENT_PLATFORM_DATABASE_URL"
REDIS_URL_ENV = "AGENT_PLATFORM_REDIS_URL"
HOME_ENV = "AGENT_PLATFORM_HOME"
DATA_DIR_ENV = "AGENT_PLATFORM_DATA_DIR"

YAML_LIMIT_BYTES = 1024 * 1024
"""What a YAML config, policy, scenario or snapshot may weigh (the biggest shipped one is 5 KB).

Below the general input limit because YAML is parsed in pure Python: a megabyte parses in
seconds, four would take long enough to look like a hang.
"""

_SMALL_CHARS = 320
_SMALL_INT_BITS = 1024

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
        """Read the settings from ``environ`` (default: the process environment).

        Raises:
            ConfigError: a database or Redis URL that no backend could use (wrong scheme,
                unparsable, bad port), naming the variable, the value with its credentials
                hidden and what is allowed; checked here so no command starts with it.
        """
        env = os.environ if environ is None else environ
        root = Path(env[HOME_ENV]).resolve() if env.get(HOME_ENV) else checkout_root()
        data_dir = Path(env[DATA_DIR_ENV]) if env.get(DATA_DIR_ENV) else root / ".data"
        database_url = env.get(DATABASE_URL_ENV) or None
        redis_url = env.get(REDIS_URL_ENV) or None
        if database_url is not None:
            check_database_url(database_url)
        if redis_url is not None:
            check_redis_url(redis_url)
        return cls(root=root, database_url=database_url, redis_url=redis_url, data_dir=data_dir)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'agent_platform.sqlite3'}"

    @property
    def database_backend(self) -> str:
        """``postgresql`` or ``sqlite`` (the URL's scheme without its driver)."""
        scheme = self.effective_database_url.split(":", 1)[0].lower()
        return DATABASE_DRIVERS.get(scheme, scheme.split("+", 1)[0])

    @property
    def cache_backend(self) -> str:
        """``redis`` when a Redis URL is set, else ``memory``."""
        return "redis" if self.redis_url else "memory"

    def config_path(self, relative: str) -> Path:
        """``relative`` (such as ``configs/model_routing.yaml``) under the project root."""
        return self.root / relative


_USERINFO = re.compile(r"(//)[^/@]*@")
_SECRET_PARAM = re.compile(r"([?&](?:password|passwd|pass|pwd)=)[^&]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with any user and password replaced, for error messages, logs and evidence.

    Works on text that is not a valid URL too, since the error path is exactly where a
    malformed URL shows up. A password passed as a query parameter is hidden as well.
    """
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", url))


DATABASE_DRIVERS: dict[str, str] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgres+psycopg": "postgresql",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}
"""URL schemes a database URL may have, and the backend each selects."""

REDIS_SCHEMES = ("redis", "rediss", "unix")
"""URL schemes a Redis URL may have (``unix://`` for a socket path)."""

_DATABASE_ALLOWED = "a postgresql://, postgres://, postgresql+psycopg:// or sqlite:/// URL"
_REDIS_ALLOWED = "a redis://, rediss:// or unix:// URL"


def check_database_url(url: str, variable: str = DATABASE_URL_ENV) -> str:
    """The backend (``postgresql`` or ``sqlite``) of the database URL ``url``.

    Raises:
        ConfigError: naming ``variable``, the redacted URL and the schemes allowed.
    """
    _check_text(url, variable)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise _url_error(variable, url, f"{_DATABASE_ALLOWED} (it does not parse)") from exc
    backend = DATABASE_DRIVERS.get(parsed.drivername)
    if backend is None:
        reason = f"{_DATABASE_ALLOWED}; scheme {parsed.drivername!r} is not supported"
        raise _url_error(variable, url, reason)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise _url_error(variable, url, f"{_DATABASE_ALLOWED} with a port in 1..65535")
    return backend


def check_redis_url(url: str, variable: str = REDIS_URL_ENV) -> str:
    """The scheme of the Redis URL ``url`` (``redis``, ``rediss`` or ``unix``).

    Raises:
        ConfigError: naming ``variable``, the redacted URL and what is allowed.
    """
    _check_text(url, variable)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        raise _url_error(variable, url, _REDIS_ALLOWED)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise _url_error(variable, url, f"{_REDIS_ALLOWED} with a port in 1..65535") from exc
    if scheme == "unix" and not parts.path:
        raise _url_error(variable, url, "a unix:// URL with the socket's path")
    database = parts.path.strip("/")
    if scheme != "unix" and database and not database.isdigit():
        raise _url_error(variable, url, f"{_REDIS_ALLOWED} whose path is a database number")
    return scheme


def _check_text(value: str, variable: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        shown = _Shown(clip(redact_url(raw)))
        raise ConfigError("environment", variable, shown, "valid UTF-8 text") from exc


def _url_error(variable: str, url: str, allowed: str) -> ConfigError:
    return ConfigError("environment", variable, _bounded(redact_url(url)), allowed)


def load_yaml(path: Path, *, what: str = "YAML file") -> Any:
    """Read one YAML document from the regular file ``path``, within bounds.

    Raises:
        InputFileError: the file is missing, not a regular file, over
            :data:`YAML_LIMIT_BYTES` or not UTF-8 (the message starts ``file not found: PATH``
            for a missing one).
        ConfigError: the text is not valid YAML, or uses what :mod:`agent_platform.yaml_input`
            refuses (aliases, deep nesting, duplicate keys, lone surrogates); the key names
            the line.
    """
    text = read_text_bounded(path, limit_bytes=YAML_LIMIT_BYTES, what=what)
    return parse_yaml_text(text, str(path))


def parse_yaml_text(text: str, source: str) -> Any:
    """Parse YAML ``text`` read from ``source`` (named in errors) with the bounded loader."""
    try:
        return parse_yaml(text)
    except YAMLRefused as exc:
        key = f"line {exc.line}" if exc.key == "<root>" else f"{exc.key} (line {exc.line})"
        raise ConfigError(source, key, _Shown(exc.value), exc.allowed) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "<document>"
        said = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        problem = shorten(said or "unparsable", 120)
        raise ConfigError(source, where, _Shown(problem), "valid YAML") from None
    except yaml.YAMLError as exc:
        where = "<document>"
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            where = f"line {text.count(chr(10), 0, position) + 1}"
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigError(source, where, _Shown(shorten(str(reason), 120)), "valid YAML") from None


class _Shown:
    """A value for :class:`ConfigError` that is already rendered (its repr is the text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _bounded(value: object) -> object:
    """``value`` itself when it is small, else a stand-in whose repr is :func:`clip`'s.

    :class:`ConfigError` renders its value with ``repr``; a rejected value can be a whole
    document (a list where a mapping belongs), so a large one is clipped before that.
    """
    return value if _small(value) else _Shown(clip(value))


def _small(value: object, level: int = 0) -> bool:
    if isinstance(value, str | bytes):
        return len(value) <= _SMALL_CHARS
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return value.bit_length() < _SMALL_INT_BITS
    if isinstance(value, Mapping):
        items: list[Any] = [*value.keys(), *value.values()] if len(value) <= 8 else []
        return level < 2 and len(value) <= 8 and all(_small(v, level + 1) for v in items)
    if isinstance(value, list | tuple | set | frozenset):
        return level < 2 and len(value) <= 8 and all(_small(v, level + 1) for v in value)
    return True


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
            "shown": clip(value),
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
        return ConfigError(file, _dotted(full), _bounded(ctx["value"]), str(ctx["allowed"]))
    key = _dotted(loc)
    value = first.get("input", _lookup(data, loc))
    if first.get("type") == "missing":
        value = None
        allowed = "a value (the key is required)"
    else:
        allowed = str(first.get("msg", "a valid value"))
        allowed = allowed.removeprefix("Value error, ")
    return ConfigError(file, key, _bounded(value), allowed)


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
