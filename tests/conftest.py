"""Fixtures every test may use: fresh databases on both backends, Redis, private servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache
from tests.support import servers
from tests.support.databases import (
    REDIS_TEST_URL,
    create_pg_database,
    drop_pg_database,
    drop_template,
)
from tests.support.servers import PrivateRedis

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_template()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database, dropped after the test."""
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with no tables (for migration tests)."""
    name, url = create_pg_database(migrated=False)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A freshly migrated SQLite file under ``tmp_path``."""
    url = f"sqlite:///{tmp_path / 'agent_platform.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on :func:`db_url` (so on SQLite and on PostgreSQL), disposed afterwards."""
    built = create_engine_for(db_url)
    yield built
    built.dispose()


@pytest.fixture
def redis_url() -> str:
    """The shared Redis server; tests isolate themselves with :func:`redis_prefix`."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    prefix = f"aptest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own on a free port, which the test may stop."""
    with servers.private_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    """Each test using this runs on the in-process TTL cache and on Redis (its own prefix)."""
    if request.param == "memory":
        built: Cache = MemoryTTLCache()
    else:
        prefix = request.getfixturevalue("redis_prefix")
        built = RedisCache(request.getfixturevalue("redis_url"), prefix=prefix)
    yield built
    built.close()
