"""The Redis budget store refuses a server that may evict its counters or reservations."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from agent_platform.db import create_engine_for
from agent_platform.errors import StorageError
from agent_platform.finops import load_finops, open_store
from agent_platform.finops._store import BudgetStore
from agent_platform.finops.redis_store import RedisBudgetStore
from agent_platform.models.config import load_routing
from tests.support.servers import private_redis


def _open(url: str, sqlite_url: str) -> BudgetStore:
    routing = load_routing()
    finops = load_finops(routing=routing)
    client = redis.Redis.from_url(url)
    engine = create_engine_for(sqlite_url)
    try:
        return open_store(engine, finops, redis_client=client, redis_prefix="ap:test:")
    finally:
        client.close()
        engine.dispose()


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_an_evicting_redis_is_refused_naming_its_policy(
    tmp_path: Path, sqlite_url: str, policy: str
) -> None:
    args = ["--maxmemory", "64mb", "--maxmemory-policy", policy]
    with (
        private_redis(tmp_path / "redis", extra_args=args) as server,
        pytest.raises(StorageError) as caught,
    ):
        _open(server.url, sqlite_url)
    message = str(caught.value)
    assert f"maxmemory-policy is {policy!r}" in message
    assert "allowed: 'noeviction'" in message


@pytest.mark.parametrize(
    "args",
    [
        ["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"],
        ["--maxmemory", "0", "--maxmemory-policy", "allkeys-lru"],  # no limit: never evicts
    ],
)
def test_a_redis_that_keeps_every_key_is_accepted(
    tmp_path: Path, sqlite_url: str, args: list[str]
) -> None:
    with private_redis(tmp_path / "redis", extra_args=args) as server:
        assert isinstance(_open(server.url, sqlite_url), RedisBudgetStore)


def test_an_unreachable_redis_is_a_storage_error(tmp_path: Path, sqlite_url: str) -> None:
    with private_redis(tmp_path / "redis") as server:
        url = server.url
    with pytest.raises(StorageError, match="cannot read INFO memory"):
        _open(url, sqlite_url)
