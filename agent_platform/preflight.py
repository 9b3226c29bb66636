"""Checks before a command touches anything: the environment it reads and the backends it uses.

A wrong database password used to surface as a thousand lines of migration tracebacks blaming
something else, and a misspelled ``AGENT_PLATFORM_*`` variable was silently ignored. This
module gives every command (and ``agent-platform doctor``) the two answers up front:

* :data:`ENV_VARS` is the one registry of the environment variables agent_platform reads,
  each with a short description; :func:`unknown_variables` names every other
  ``AGENT_PLATFORM_*`` variable that is set, with the closest known name.
* :func:`check_backends` connects once to each configured backend (the database: ``SELECT 1``;
  Redis: ``PING``) with a short timeout and turns a failure into one
  :class:`~agent_platform.errors.ConfigError` (fix the environment: exit 2) or
  :class:`~agent_platform.errors.StorageError` (the service is down: exit 1) line that names
  the variable, the URL without its credentials and the real cause, classified.
  :func:`probe_backends` returns the same findings without raising, for reports.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError

from agent_platform.config import (
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    HOME_ENV,
    REDIS_URL_ENV,
    Settings,
    check_database_url,
    check_redis_url,
    redact_url,
)
from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError, StorageError
from agent_platform.inputs import shorten

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENV_PREFIX",
    "ENV_VARS",
    "BackendCheck",
    "EnvVar",
    "UnknownVariable",
    "check_backends",
    "describe_environment",
    "probe_backends",
    "register_env_var",
    "unknown_variables",
]

ENV_PREFIX = "AGENT_PLATFORM_"
DEFAULT_TIMEOUT_S = 5.0
"""How long one backend may take to answer before the check calls it a timeout."""


@dataclass(frozen=True)
class EnvVar:
    """One environment variable agent_platform reads.

    ``secret`` values are never shown (only whether they are set); ``url`` values are shown
    with their credentials hidden.
    """

    name: str
    description: str
    secret: bool = False
    url: bool = False

    def shown(self, value: str) -> str:
        """``value`` as it may appear in a report."""
        if self.secret:
            return "(set, hidden)"
        return shorten(redact_url(value) if self.url else value, 160)


ENV_VARS: dict[str, EnvVar] = {}
"""Every known variable by name; extend with :func:`register_env_var`."""


def register_env_var(
    name: str, description: str, *, secret: bool = False, url: bool = False
) -> EnvVar:
    """Add (or replace) a known variable; a module that reads a new one registers it here."""
    if not name.startswith(ENV_PREFIX):
        raise ValueError(f"agent_platform variables start with {ENV_PREFIX}: got {name!r}")
    var = EnvVar(name, description, secret=secret, url=url)
    ENV_VARS[name] = var
    return var


_LEDGER = "AGENT_PLATFORM_LEDGER_"
_NOTIFY = "(configs/notifications.yaml names it)"

register_env_var(HOME_ENV, "folder holding configs/ and policies/ (default: the checkout)")
register_env_var(DATA_DIR_ENV, "folder of the embedded SQLite file (default: HOME/.data)")
register_env_var(DATABASE_URL_ENV, "PostgreSQL or SQLite URL (default: embedded SQLite)", url=True)
register_env_var(REDIS_URL_ENV, "Redis URL of the cache tier (default: in-process)", url=True)
register_env_var(
    "AGENT_PLATFORM_LOCAL_LLM_BASE_URL", "base URL of a local OpenAI-compatible model", url=True
)
register_env_var(
    f"{_LEDGER}KEY", "file of the ed25519 key that signs ledger checkpoints", secret=True
)
register_env_var(f"{_LEDGER}CHECKPOINTS", "folder the signed ledger checkpoints are written to")
register_env_var(f"{_LEDGER}CHECKPOINT_EVERY", "appends between two ledger checkpoints")
register_env_var(f"{_LEDGER}SCOPE", "database scope a ledger checkpoint is filed under")
register_env_var("AGENT_PLATFORM_EVIDENCE_SCALE", "evidence workloads at full or reduced scale")
register_env_var("AGENT_PLATFORM_EVIDENCE_ROOT", "folder the evidence job writes into")
register_env_var("AGENT_PLATFORM_WEBHOOK_URL", f"webhook URL {_NOTIFY}", secret=True)
register_env_var("AGENT_PLATFORM_WEBHOOK_SECRET", f"webhook signing secret {_NOTIFY}", secret=True)
register_env_var("AGENT_PLATFORM_SLACK_WEBHOOK_URL", f"Slack webhook URL {_NOTIFY}", secret=True)
register_env_var("AGENT_PLATFORM_SMTP_USERNAME", f"SMTP user {_NOTIFY}")
register_env_var("AGENT_PLATFORM_SMTP_PASSWORD", f"SMTP password {_NOTIFY}", secret=True)
register_env_var("AGENT_PLATFORM_TEST_PG_ADMIN_URL", "PostgreSQL admin URL of the tests", url=True)
register_env_var("AGENT_PLATFORM_TEST_REDIS_URL", "Redis URL of the tests", url=True)
register_env_var(
    "AGENT_PLATFORM_BENCH_PG_ADMIN_URL", "PostgreSQL admin URL of benchmarks", url=True
)
register_env_var("AGENT_PLATFORM_BENCH_REDIS_URL", "Redis URL of the benchmarks", url=True)
register_env_var(
    "AGENT_PLATFORM_AGENT_RUNS_CONFIG", "agent-run queue limits and inbox (configs/agent_runs.yaml)"
)
register_env_var(
    "AGENT_PLATFORM_CODE_IMAGE", "code location image of Docker/Kubernetes runs (deploy/)"
)
register_env_var("AGENT_PLATFORM_K8S_NAMESPACE", "Kubernetes namespace of run jobs (deploy/)")


@dataclass(frozen=True)
class UnknownVariable:
    """An ``AGENT_PLATFORM_*`` variable that is set but read by nothing."""

    name: str
    suggestion: str | None

    def message(self) -> str:
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"{self.name} is not a variable agent_platform reads{hint}"


def unknown_variables(
    environ: Mapping[str, str] | None = None, also_known: Iterable[str] = ()
) -> list[UnknownVariable]:
    """Every set ``AGENT_PLATFORM_*`` variable outside :data:`ENV_VARS` and ``also_known``
    (names a config refers to, such as a notification's ``secret_env``), sorted by name."""
    env = os.environ if environ is None else environ
    known = set(ENV_VARS) | set(also_known)
    found = []
    # Compared without the common prefix, which would make every pair look alike.
    suffixes = {name.removeprefix(ENV_PREFIX): name for name in sorted(known)}
    for name in sorted(n for n in env if n.startswith(ENV_PREFIX) and n not in known):
        close = difflib.get_close_matches(
            name.removeprefix(ENV_PREFIX), list(suffixes), n=1, cutoff=0.7
        )
        found.append(UnknownVariable(name, suffixes[close[0]] if close else None))
    return found


def describe_environment(environ: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The known variables that are set, each with its value as it may be shown."""
    env = os.environ if environ is None else environ
    return [
        {"name": var.name, "value": var.shown(env[var.name]), "description": var.description}
        for var in ENV_VARS.values()
        if env.get(var.name)
    ]


# What went wrong, as the checks classify it, and whether it is the environment's fault.
AUTH_FAILED = "authentication failed"
DATABASE_MISSING = "database does not exist"
UNKNOWN_HOST = "unknown host"
REFUSED = "connection refused"
UNREACHABLE = "host unreachable"
TIMEOUT = "timed out"
BAD_SCHEME = "bad scheme"
REDIS_NOAUTH = "Redis needs a password (NOAUTH)"
REDIS_WRONGPASS = "Redis refused the password (WRONGPASS)"
NOT_WRITABLE = "cannot be opened or created"
FAILED = "failed"

_REMEDY = {
    AUTH_FAILED: "a user and password the server accepts",
    DATABASE_MISSING: "an existing database (create it, or correct the name)",
    UNKNOWN_HOST: "a host name that resolves",
    REDIS_NOAUTH: "a URL carrying the password (redis://:PASSWORD@host:port/0)",
    REDIS_WRONGPASS: "the user and password the Redis server expects",
    NOT_WRITABLE: "a folder this user can write, holding an SQLite database or nothing yet",
    BAD_SCHEME: "a URL of a supported scheme",
}
"""Problems the user fixes in the environment (ConfigError, exit 2); the rest are services
that are down or slow (StorageError, exit 1)."""


@dataclass(frozen=True)
class BackendCheck:
    """The outcome of connecting once to one backend.

    Attributes:
        backend: ``database`` or ``redis``.
        variable: the variable that chose it (the data folder's for the embedded SQLite).
        target: the URL with its credentials hidden.
        ok: whether the backend answered.
        problem: one of the classified problems (empty when ``ok``).
        detail: the driver's own words, on one line, or what was checked.
        elapsed_ms: how long the check took.
    """

    backend: str
    variable: str
    target: str
    ok: bool
    problem: str
    detail: str
    elapsed_ms: float

    def error(self) -> ConfigError | StorageError | None:
        """The failure as the error a command raises (None when the check passed)."""
        if self.ok:
            return None
        remedy = _REMEDY.get(self.problem)
        if remedy is not None:
            allowed = f"{remedy} ({self.problem}: {self.detail})"
            return ConfigError("environment", self.variable, self.target, allowed)
        return StorageError(f"{self.variable}: {self.target}: {self.problem}: {self.detail}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_backends(
    settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S, with_redis: bool = True
) -> list[BackendCheck]:
    """Check the database and (when configured and ``with_redis``) Redis; never raises for a
    backend failure."""
    checks = [_probe_database(settings, timeout_s)]
    if with_redis and settings.redis_url:
        checks.append(_probe_redis(settings.redis_url, timeout_s))
    return checks


def check_backends(
    settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S, with_redis: bool = True
) -> list[BackendCheck]:
    """Connect once to each configured backend; return the checks when all answered.

    Call it before a command that would otherwise meet a bad backend deep inside a migration
    or a workload. It takes one round trip per backend (bounded by ``timeout_s``); pass
    ``with_redis=False`` from a command that uses only the database.

    Raises:
        ConfigError: the environment is wrong (authentication, missing database, unknown
            host, Redis password, unusable SQLite folder); names the variable, the URL with
            its credentials hidden and the cause.
        StorageError: a backend is down or slow (connection refused, unreachable, timeout).
    """
    checks = probe_backends(settings, timeout_s=timeout_s, with_redis=with_redis)
    for check in checks:
        error = check.error()
        if error is not None:
            raise error
    return checks


def _timed(
    backend: str, variable: str, target: str, probe: Callable[[], tuple[str, str]]
) -> BackendCheck:
    """Run ``probe`` (returns problem, detail; problem "" when fine) and time it."""
    started = time.perf_counter()
    problem, detail = probe()
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return BackendCheck(backend, variable, target, not problem, problem, detail, elapsed)


def _probe_database(settings: Settings, timeout_s: float) -> BackendCheck:
    url = settings.effective_database_url
    variable = DATABASE_URL_ENV if settings.database_url else DATA_DIR_ENV
    target = redact_url(url)
    try:
        backend = check_database_url(url, variable)
    except ConfigError as exc:
        refused = (BAD_SCHEME, exc.allowed)
        return _timed("database", variable, target, lambda: refused)
    if backend == "sqlite":
        return _timed("database", variable, target, lambda: _sqlite_probe(url, timeout_s))
    return _timed("database", variable, target, lambda: _postgres_probe(url, timeout_s))


def _postgres_probe(url: str, timeout_s: float) -> tuple[str, str]:
    seconds = max(2, math.ceil(timeout_s))  # libpq's connect_timeout: whole seconds, >= 2
    engine = create_engine_for(
        url, poolclass=sa.NullPool, connect_args={"connect_timeout": seconds}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        return _classify_postgres(cause), _cause(cause, url)
    finally:
        engine.dispose()
    return "", "SELECT 1 answered"


_POSTGRES_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"authentication failed|no password supplied|role \"[^\"]*\" does not exist", AUTH_FAILED),
    (r"no pg_hba\.conf entry", AUTH_FAILED),
    (r"database \"[^\"]*\" does not exist", DATABASE_MISSING),
    (
        r"failed to resolve host|could not translate host name|name or service not known",
        UNKNOWN_HOST,
    ),
    (r"connection refused", REFUSED),
    (r"no route to host|network is unreachable", UNREACHABLE),
    (r"timeout expired", TIMEOUT),
)
"""libpq reports connection failures without an SQLSTATE, so its (English) words are matched."""


def _classify_postgres(cause: BaseException) -> str:
    if type(cause).__name__ == "ConnectionTimeout":
        return TIMEOUT
    return _first_match(str(cause), _POSTGRES_PATTERNS)


def _first_match(text: str, patterns: Iterable[tuple[str, str]]) -> str:
    lowered = text.lower()
    return next((problem for rule, problem in patterns if re.search(rule, lowered)), FAILED)


def _sqlite_probe(url: str, timeout_s: float) -> tuple[str, str]:
    database = make_url(url).database
    if not database or database == ":memory:":
        return "", "in-memory SQLite"
    path = Path(database)
    if not path.exists():
        folder = next((p for p in path.parents if p.exists()), Path("/"))
        if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return "", f"{path} does not exist yet; it is created on first use"
        return NOT_WRITABLE, f"{folder} is not a folder this user can write"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        text = str(exc).lower()
        problem = TIMEOUT if "locked" in text else NOT_WRITABLE
        return problem, f"{path}: {shorten(str(exc), 160)}"
    return "", f"{path} answered"


def _probe_redis(url: str, timeout_s: float) -> BackendCheck:
    target = redact_url(url)
    try:
        check_redis_url(url)
    except ConfigError as exc:
        refused = (BAD_SCHEME, exc.allowed)
        return _timed("redis", REDIS_URL_ENV, target, lambda: refused)
    return _timed("redis", REDIS_URL_ENV, target, lambda: _redis_probe(url, timeout_s))


def _redis_probe(url: str, timeout_s: float) -> tuple[str, str]:
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:  # a URL redis-py cannot parse that slipped past the scheme check
        return BAD_SCHEME, _cause(exc, url)
    try:
        client.ping()
    except redis.RedisError as exc:
        return _classify_redis(exc), _cause(exc, url)
    finally:
        client.close()
    return "", "PING answered"


_REDIS_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"wrongpass|invalid username-password|invalid password", REDIS_WRONGPASS),
    (r"without any password configured", REDIS_WRONGPASS),
    (r"noauth|authentication required|already authenticated", REDIS_NOAUTH),
    (r"db index is out of range", DATABASE_MISSING),
    (r"name or service not known|temporary failure in name resolution", UNKNOWN_HOST),
    (r"connection refused", REFUSED),
    (r"no such file or directory|no route to host|network is unreachable", UNREACHABLE),
)


def _classify_redis(exc: BaseException) -> str:
    if isinstance(exc, redis.TimeoutError):
        return TIMEOUT
    return _first_match(str(exc), _REDIS_PATTERNS)


def _cause(exc: BaseException, url: str) -> str:
    """The driver's message on one line, without the URL's password should it quote it."""
    text = shorten(f"{type(exc).__name__}: {exc}", 240)
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str) -> str | None:
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):  # a URL that does not parse has no password to hide
        return None
    return str(password) if password else None
