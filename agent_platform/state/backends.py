"""Open the configured backends of the state fabric from :class:`~agent_platform.config.Settings`.

The environment picks PostgreSQL or the embedded SQLite file, Redis or the in-process cache.
A URL that cannot work is a :class:`ConfigError` naming the variable, the value and what is
allowed, so the CLI prints one line and exits 2 instead of a driver traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from agent_platform.config import DATABASE_URL_ENV, REDIS_URL_ENV, Settings, redact_url
from agent_platform.db import create_engine_for
from agent_platform.errors import ConfigError
from agent_platform.migrate import upgrade
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache

__all__ = ["Backends", "open_backends"]

_DATABASES = ("postgresql", "sqlite")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass
class Backends:
    """An engine and a cache, and how to describe them in reports (no passwords)."""

    engine: Engine
    cache: Cache
    database: str
    database_url: str
    cache_name: str
    embedded: bool

    def describe(self) -> dict[str, str]:
        return {
            "database": self.database,
            "database_url": redact_url(self.database_url),
            "cache": self.cache_name,
        }

    def close(self) -> None:
        self.cache.close()
        self.engine.dispose()


def _check_database_url(settings: Settings) -> str:
    url = settings.effective_database_url
    try:
        backend = make_url(url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "environment", DATABASE_URL_ENV, redact_url(url), "a postgresql:// or sqlite:/// URL"
        ) from exc
    if backend not in _DATABASES:
        raise ConfigError(
            "environment", DATABASE_URL_ENV, redact_url(url), "a postgresql:// or sqlite:/// URL"
        )
    return url


def open_backends(
    settings: Settings, *, cache_prefix: str = "agent_platform:", migrate_embedded: bool = True
) -> Backends:
    """Build the engine and cache ``settings`` select.

    The embedded SQLite database is migrated to head on open (``migrate_embedded``); a
    configured PostgreSQL database is migrated by ``agent-platform migrate``.
    """
    url = _check_database_url(settings)
    redis_url = settings.redis_url
    if redis_url is not None and not redis_url.startswith(_REDIS_SCHEMES):
        raise ConfigError(
            "environment",
            REDIS_URL_ENV,
            redact_url(redis_url),
            "a redis://, rediss:// or unix:// URL",
        )
    embedded = settings.database_url is None
    if embedded and migrate_embedded:
        upgrade(url)
    engine = create_engine_for(url)
    cache: Cache = (
        RedisCache(redis_url, prefix=cache_prefix) if redis_url is not None else MemoryTTLCache()
    )
    return Backends(
        engine=engine,
        cache=cache,
        database=engine.dialect.name,
        database_url=make_url(url).render_as_string(hide_password=True),
        cache_name=cache.name,
        embedded=embedded,
    )
