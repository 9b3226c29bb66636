"""Write the ``dagster.yaml`` of an instance that queues agent runs.

``python -m jobs.agent_instance --home DIR [--postgres]`` writes ``DIR/dagster.yaml``: the
QueuedRunCoordinator with the limits of ``configs/agent_runs.yaml`` (global maximum, per phase,
per provider) and, with ``--postgres``, run, event-log and schedule storage on PostgreSQL
(dagster-postgres) through ``DAGSTER_PG_URL`` read from the environment when Dagster starts (the
URL is never written into the file; name the driver, ``postgresql+psycopg2://``: SQLAlchemy 2.1
maps plain ``postgresql://`` to psycopg 3, which dagster-postgres's NOTIFY does not work on). The Makefile targets ``agent-ui``/``agent-daemon`` and the
``-postgres`` variants call it, the daemon test and the scale benchmark too, so every instance
that runs agent tasks gets its limits from the one config file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from agent_platform.errors import ConfigError, InvalidInputError
from jobs.agent_runs_config import AgentRunsConfig, load_agent_runs_config, tag_concurrency_limits

__all__ = ["PG_URL_ENV", "instance_config", "main", "write_instance"]

PG_URL_ENV = "DAGSTER_PG_URL"


def _coordinator(
    config: AgentRunsConfig, limit: int | None, interval_s: int, workers: int
) -> dict[str, Any]:
    """The QueuedRunCoordinator's config: the global and tag limits, how it dequeues."""
    coordinator: dict[str, Any] = {
        "max_concurrent_runs": limit or config.queue.max_concurrent_runs,
        "tag_concurrency_limits": tag_concurrency_limits(config),
        "dequeue_interval_seconds": interval_s,
    }
    if workers > 0:
        coordinator.update(dequeue_use_threads=True, dequeue_num_workers=workers)
    return coordinator


def instance_config(
    config: AgentRunsConfig,
    *,
    postgres: bool = False,
    max_concurrent_runs: int | None = None,
    dequeue_interval_s: int = 2,
    dequeue_workers: int | None = None,
) -> dict[str, Any]:
    """The instance settings (``max_concurrent_runs`` overrides the config's, for the bench).

    ``dequeue_workers`` (default: the config's ``launch_workers``) > 0 lets the daemon launch
    that many runs at once (Dagster's ``dequeue_use_threads``); 0 launches one after the other.
    """
    workers = config.queue.launch_workers if dequeue_workers is None else dequeue_workers
    coordinator = _coordinator(config, max_concurrent_runs, dequeue_interval_s, workers)
    settings: dict[str, Any] = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": coordinator,
        },
        "telemetry": {"enabled": False},
    }
    if postgres:
        settings["storage"] = {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}
    return settings


def write_instance(home: Path, settings: dict[str, Any]) -> Path:
    """Write ``home/dagster.yaml`` (creating ``home``); returns its path."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    header = "# Written by python -m jobs.agent_instance from configs/agent_runs.yaml.\n"
    target.write_text(header + yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return target


def create_database(url: str) -> bool:
    """Create the database ``url`` names on its server unless it exists; True if created."""
    import sqlalchemy as sa
    from sqlalchemy.engine.url import make_url

    from agent_platform.db import create_engine_for

    target = make_url(url)
    admin_url = target.set(database="postgres").render_as_string(hide_password=False)
    admin = create_engine_for(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            if conn.execute(query, {"name": target.database}).first():
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
            return True
    finally:
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.agent_instance", description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="the instance folder")
    parser.add_argument("--postgres", action="store_true", help=f"storage on ${PG_URL_ENV}")
    parser.add_argument("--config", type=Path, help="agent runs YAML (default: configs/)")
    parser.add_argument(
        "--create-database", action="store_true", help=f"create ${PG_URL_ENV}'s database"
    )
    args = parser.parse_args(argv)
    try:
        config = load_agent_runs_config(args.config)
    except (ConfigError, InvalidInputError) as exc:
        print(f"agent_instance: error: {exc}", file=sys.stderr)
        return 2
    target = write_instance(args.home, instance_config(config, postgres=args.postgres))
    print(f"wrote {target}")
    if args.create_database:
        url = os.environ.get(PG_URL_ENV)
        if not url:
            print(f"agent_instance: error: --create-database needs ${PG_URL_ENV}", file=sys.stderr)
            return 2
        print("created" if create_database(url) else "found", "the Dagster storage database")
    return 0


if __name__ == "__main__":
    sys.exit(main())
