"""What bench.scale sets up: the tasks, a Dagster storage database, the notification receiver
and its dispatcher, and machine CPU samples."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine.url import make_url

from agent_platform.config import project_root
from agent_platform.db import create_engine_for
from agent_platform.notifications import Dispatcher, load_notifications_config
from agent_platform.notifications.testing import WebhookReceiver

__all__ = [
    "CpuSample",
    "Receiver",
    "cpu_sample",
    "dagster_database",
    "scenario_tasks",
    "write_notifications_config",
]

SCENARIOS = (
    "approve_first_pass.yaml",
    "critic_refinement.yaml",
    "policy_violation.yaml",
    "qa_fail_then_fix.yaml",
    "refinement_bound.yaml",
)


def scenario_tasks(count: int) -> list[Any]:
    """``count`` distinct tasks: the scenarios in turn, each title numbered."""
    from jobs.agent_task import load_task

    folder = project_root() / "configs" / "scenarios"
    texts = [(folder / name).read_text(encoding="utf-8") for name in SCENARIOS]
    tasks = []
    for index in range(count):
        text = texts[index % len(texts)]
        numbered = text.replace("\ntitle: ", f"\ntitle: Bench {index + 1:03d} - ", 1)
        if numbered == text:
            raise ValueError(f"scenario {SCENARIOS[index % len(texts)]} has no top-level title")
        tasks.append(load_task(text=numbered))
    return tasks


@contextmanager
def dagster_database(server_url: str, prefix: str) -> Iterator[str]:
    """An empty database for Dagster's storage (Dagster creates its schema); dropped after.

    The URL names psycopg2: SQLAlchemy 2.1 maps plain ``postgresql://`` to psycopg 3, on
    which dagster-postgres's ``NOTIFY`` with a bound parameter is a syntax error."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine_for(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(drivername="postgresql+psycopg2", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def write_notifications_config(folder: Path, receiver_url: str) -> Path:
    """A notifications config sending every agent_run.* event to the loopback receiver."""
    data = {
        "security": {"allow_cidrs": ["127.0.0.1/32"]},
        "destinations": [
            {
                "name": "bench-slack",
                "type": "slack",
                "url": receiver_url,
                "events": ["agent_run.*"],
                "timeout_s": 5,
            }
        ],
    }
    path = folder / "notifications.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Receiver:
    """The loopback receiver of run-end notices, and the dispatcher that delivers to it."""

    def __init__(self) -> None:
        self._server = WebhookReceiver(unsigned_paths=["/slack"])

    def __enter__(self) -> Receiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url("/slack")

    def bodies(self) -> list[bytes]:
        return [r.body for r in self._server.requests() if r.status == 200]

    @contextmanager
    def dispatching(self, database_url: str, folder: Path) -> Iterator[None]:
        """A dispatcher thread delivering the outbox while the levels run."""
        engine = create_engine_for(database_url)
        config = load_notifications_config(folder / "notifications.yaml")
        halt = threading.Event()
        dispatcher = Dispatcher(engine, config)
        worker = threading.Thread(target=dispatcher.run, kwargs={"stop": halt}, daemon=True)
        worker.start()
        try:
            yield
        finally:
            halt.set()
            dispatcher.wake()
            worker.join(timeout=60)
            dispatcher.close()
            engine.dispose()

    def drain(self, database_url: str, folder: Path, timeout_s: float = 60.0) -> None:
        """Deliver what is still due (passes until one delivers nothing or time is up)."""
        engine = create_engine_for(database_url)
        config = load_notifications_config(folder / "notifications.yaml")
        deadline = time.monotonic() + timeout_s
        with Dispatcher(engine, config) as dispatcher:
            while time.monotonic() < deadline and dispatcher.run_once().claimed:
                pass
        engine.dispose()


@dataclass(frozen=True)
class CpuSample:
    """Cumulative busy and total jiffies of all CPUs (/proc/stat)."""

    busy: int
    total: int

    def busy_percent_since(self, earlier: CpuSample) -> float:
        total = self.total - earlier.total
        return 100.0 * (self.busy - earlier.busy) / total if total > 0 else float("nan")


def cpu_sample() -> CpuSample:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return CpuSample(busy=sum(values[:8]) - idle, total=sum(values[:8]))
