"""``agent-platform doctor``: what this machine's environment selects, and whether it works.

Prints the effective settings (credentials hidden), the ``AGENT_PLATFORM_*`` variables that
are set, any that nothing reads (with the closest known name), and one connection check per
backend with its classified cause. Exit 0 when everything is in order, 1 when anything needs
attention; ``--json`` gives the same findings as one document.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from agent_platform.config import Settings, load_yaml, redact_url
from agent_platform.errors import ConfigError, InvalidInputError
from agent_platform.inputs import clip
from agent_platform.preflight import (
    DEFAULT_TIMEOUT_S,
    BackendCheck,
    describe_environment,
    probe_backends,
    unknown_variables,
)

__all__ = ["register"]

NOTIFICATIONS_CONFIG = "configs/notifications.yaml"


def register(subparsers: Any) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="show the effective settings and check the environment and backends"
    )
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds each backend may take to answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    doctor.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"got {clip(text)}; allowed: seconds in (0, 300]")
    return value


def run(args: argparse.Namespace) -> int:
    out = args.output
    problems: list[str] = []
    try:
        settings: Settings | None = Settings.from_env()
    except ConfigError as exc:
        settings = None
        problems.append(str(exc))
    referenced, config_problem = _referenced_variables(settings)
    problems.extend([config_problem] if config_problem else [])
    unknown = unknown_variables(also_known=referenced)
    problems.extend(u.message() for u in unknown)
    checks = probe_backends(settings, timeout_s=args.timeout) if settings else []
    problems.extend(str(check.error()) for check in checks if not check.ok)
    for line in _human(settings, unknown, checks, problems):
        out.say(line)
    out.result(
        {
            "ok": not problems,
            "settings": _settings_dict(settings),
            "environment": describe_environment(),
            "unknown_variables": [{"name": u.name, "suggestion": u.suggestion} for u in unknown],
            "backends": [check.as_dict() for check in checks],
            "problems": problems,
        }
    )
    return 0 if not problems else 1


def _referenced_variables(settings: Settings | None) -> tuple[set[str], str | None]:
    """Variable names the notifications config refers to (``*_env`` keys), so a variable the
    user named there is not reported as unknown."""
    if settings is None:
        return set(), None
    path = settings.config_path(NOTIFICATIONS_CONFIG)
    if not path.exists():
        return set(), None
    try:
        data = load_yaml(path, what="notifications config")
    except (ConfigError, InvalidInputError) as exc:
        return set(), str(exc)
    return set(_env_names(data)), None


def _env_names(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from _env_names(value)
    elif isinstance(data, list):
        for item in data:
            yield from _env_names(item)


def _settings_dict(settings: Settings | None) -> dict[str, str] | None:
    if settings is None:
        return None
    return {
        "root": str(settings.root),
        "data_dir": str(settings.data_dir),
        "database": settings.database_backend,
        "database_url": redact_url(settings.effective_database_url),
        "cache": settings.cache_backend,
        "redis_url": redact_url(settings.redis_url) if settings.redis_url else "",
    }


def _human(
    settings: Settings | None, unknown: list[Any], checks: list[BackendCheck], problems: list[str]
) -> Iterator[str]:
    shown = _settings_dict(settings)
    yield "settings"
    if shown is None:
        yield "  (the environment does not give usable settings: see below)"
    else:
        yield f"  home       {shown['root']}"
        yield f"  data dir   {shown['data_dir']}"
        yield f"  database   {shown['database']}: {shown['database_url']}"
        yield f"  cache      {shown['cache']}" + (
            f": {shown['redis_url']}" if shown["redis_url"] else ""
        )
    yield "environment"
    for row in describe_environment() or [{"name": "(no AGENT_PLATFORM_* variable set)"}]:
        yield f"  {row['name']}" + (
            f" = {row['value']}  ({row['description']})" if "value" in row else ""
        )
    if unknown:
        yield "unknown variables"
        yield from (f"  {u.message()}" for u in unknown)
    yield "backends"
    for check in checks:
        state = "ok" if check.ok else f"FAILED ({check.problem})"
        yield f"  {check.backend:<9} {state}: {check.detail} [{check.elapsed_ms:g} ms]"
    yield f"{len(problems)} problem(s)" if problems else "all checks passed"
    yield from (f"  - {problem}" for problem in problems)
