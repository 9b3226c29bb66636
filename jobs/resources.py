"""Dagster resources: one per external system the evidence workloads drive.

Clients are built in ``setup_for_execution`` into private attributes, never at import; URLs come
in as ``EnvVar`` from ``definitions.py``. With nothing configured every resource resolves to
the embedded default (a SQLite file, the in-process cache, the provider simulator), so a fresh
checkout runs the whole job with no set-up.

Workloads run in *scratch* databases created on the configured server (a fresh migrated
SQLite file, or a fresh PostgreSQL database on the same server, dropped afterwards): a month of
synthetic spend or a thousand evidence notifications must never land in the production budget
or outbox, and a scratch database makes every run start from the same state.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from agent_platform.config import Settings, project_root
from agent_platform.db import create_engine_for, is_sqlite
from agent_platform.errors import ConfigError, StorageError
from agent_platform.evidence.contract_model import Contract, load_contract
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.workloads.router_settings import (
    ROUTER_EVIDENCE_CONFIG,
    RouterEvidenceSettings,
    load_router_evidence,
    resolve,
)
from agent_platform.migrate import upgrade
from agent_platform.models.config import load_residency, load_routing
from agent_platform.notifications import (
    Dispatcher,
    NotificationPublisher,
    load_notifications_config,
)
from agent_platform.schemas.notifications import NotificationsConfig
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig
from agent_platform.state.cache import Cache, MemoryTTLCache, RedisCache

__all__ = [
    "DEFAULT_CONTRACT",
    "DatabaseResource",
    "EvidenceResource",
    "NotificationResource",
    "RedisResource",
    "RouterResource",
]

DEFAULT_CONTRACT = "contracts/phase_1_core_architecture.contract.json"
SCALES = ("full", "reduced")


class DatabaseResource(ConfigurableResource):
    """PostgreSQL when ``url`` is set, otherwise the embedded SQLite file under ``data_dir``."""

    url: str = ""
    data_dir: str = ""
    _engine: Engine | None = PrivateAttr(default=None)

    def effective_url(self) -> str:
        if self.url:
            return self.url
        return f"sqlite:///{self._data_dir() / 'agent_platform.sqlite3'}"

    def _data_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else Settings.from_env().data_dir

    @property
    def backend(self) -> str:
        return "sqlite" if is_sqlite(self.effective_url()) else "postgresql"

    def setup_for_execution(self, context: InitResourceContext) -> None:
        url = self.effective_url()
        if is_sqlite(url):
            upgrade(url)
        self._engine = create_engine_for(url)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        """The configured database (migrated to head)."""
        if self._engine is None:
            self._engine = create_engine_for(self.effective_url())
        return self._engine

    @contextmanager
    def scratch(self, label: str, *, durable: bool = True) -> Iterator[Engine]:
        """A fresh database migrated to head on the configured server, removed afterwards.

        ``durable=False`` (PostgreSQL only) turns off ``synchronous_commit`` for the scratch
        database: commits stop waiting for the WAL flush, nothing else changes (same SQL, same
        locks, same isolation). Only workloads that do not report commit latency use it, such
        as the FinOps month replay, whose figures are budget decisions, not timings.
        """
        if is_sqlite(self.effective_url()):
            with self._sqlite_scratch(label) as engine:
                yield engine
        else:
            with self._postgres_scratch(label, durable) as engine:
                yield engine

    @contextmanager
    def _sqlite_scratch(self, label: str) -> Iterator[Engine]:
        base = self._data_dir() / "scratch"
        base.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=base))
        url = f"sqlite:///{folder / 'scratch.sqlite3'}"
        try:
            with _migrated_engine(url) as engine:
                yield engine
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def _postgres_scratch(self, label: str, durable: bool) -> Iterator[Engine]:
        name = f"ap_ev_{label[:20]}_{uuid.uuid4().hex[:10]}".lower()
        admin = create_engine_for(
            self.url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0
        )
        url = make_url(self.url).set(database=name).render_as_string(hide_password=False)
        try:
            _admin_execute(admin, f'CREATE DATABASE "{name}"')
            if not durable:
                _admin_execute(admin, f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            try:
                with _migrated_engine(url) as engine:
                    yield engine
            finally:
                _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()


@contextmanager
def _migrated_engine(url: str) -> Iterator[Engine]:
    """An engine on ``url`` after migrating it to head, disposed on the way out."""
    upgrade(url)
    engine = create_engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _admin_execute(engine: Engine, statement: str) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(
            f"scratch database statement failed ({statement.split(' ')[0]} DATABASE needs the "
            f"CREATEDB privilege on the configured server): {exc}"
        ) from exc


class RedisResource(ConfigurableResource):
    """Redis when ``url`` is set, otherwise the in-process TTL cache."""

    url: str = ""
    _client: redis.Redis | None = PrivateAttr(default=None)

    @property
    def backend(self) -> str:
        return "redis" if self.url else "memory"

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if not self.url:
            return
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("environment", "AGENT_PLATFORM_REDIS_URL", self.url, "a redis:// URL")
        self._client = redis.Redis.from_url(self.url)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise StorageError(f"Redis at the configured URL does not answer: {exc}") from exc

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> redis.Redis | None:
        """The redis-py client, or None on the embedded default."""
        if self.url and self._client is None:
            self._client = redis.Redis.from_url(self.url)
        return self._client

    def cache(self, prefix: str) -> Cache:
        """A cache whose keys all start with ``prefix`` (a fresh in-process one by default)."""
        client = self.client
        if client is None:
            return MemoryTTLCache()
        return RedisCache(client=client, prefix=prefix)

    def purge(self, prefix: str) -> int:
        """Delete this run's keys (by prefix only; never the whole database)."""
        client = self.client
        if client is None:
            return 0
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)


class RouterResource(ConfigurableResource):
    """The router evidence settings and the configs the router is built on.

    ``evidence_config`` (``configs/router_evidence.yaml``) holds both router workloads'
    settings: seeds, simulation profiles, the hindsight yardstick, the incident mix and the
    time scale. Every router those workloads build talks to a loopback
    :class:`ProviderSimulator` (the workloads force provider states and inject faults, which
    only the simulator can do), so their traffic is labelled simulated.
    """

    evidence_config: str = ROUTER_EVIDENCE_CONFIG

    def settings(self) -> RouterEvidenceSettings:
        """Both workloads' settings, validated."""
        return load_router_evidence(resolve(self.evidence_config))

    def routing(self) -> RoutingConfig:
        """``configs/model_routing.yaml`` as shipped (the workloads compress its durations)."""
        return load_routing()

    def residency(self) -> ResidencyConfig:
        return load_residency()


class NotificationResource(ConfigurableResource):
    """The notification publisher and dispatcher over ``configs/notifications.yaml``."""

    config_path: str = ""

    def load_config(self) -> NotificationsConfig:
        return load_notifications_config(Path(self.config_path) if self.config_path else None)

    def publisher(
        self, engine: Engine, config: NotificationsConfig | None = None, **kwargs: Any
    ) -> NotificationPublisher:
        return NotificationPublisher(engine, config or self.load_config(), **kwargs)

    def dispatcher(
        self, engine: Engine, config: NotificationsConfig | None = None, **kwargs: Any
    ) -> Dispatcher:
        return Dispatcher(engine, config or self.load_config(), **kwargs)


class EvidenceResource(ConfigurableResource):
    """Where evidence files go, which contract holds the thresholds, and the workload scale.

    ``overrides`` replaces single workload sizes (``{"finops": {"days": 3}}``) for smoke tests;
    whatever sizes a workload ran with are recorded in its manifest and in the gate JSON.
    """

    root: str = ""
    contract_path: str = ""
    scale: str = "full"
    overrides: dict[str, dict[str, int]] = Field(default_factory=dict)

    def project_root(self) -> Path:
        return project_root()

    def evidence_root(self) -> Path:
        return Path(self.root).resolve() if self.root else self.project_root()

    def layout(self) -> EvidenceLayout:
        return EvidenceLayout(self.evidence_root())

    def contract(self) -> Contract:
        path = (
            Path(self.contract_path)
            if self.contract_path
            else self.project_root() / DEFAULT_CONTRACT
        )
        return load_contract(path)

    def checked_scale(self) -> str:
        if self.scale not in SCALES:
            raise ConfigError("resources", "evidence.scale", self.scale, f"one of {list(SCALES)}")
        return self.scale
