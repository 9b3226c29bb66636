"""Notification benchmark: publish -> outbox -> dispatcher -> a real loopback HTTP receiver.

Run as ``uv run python -m bench.notifications [--quick] [--database-url URL]``. Without a URL
it uses a fresh SQLite file in a temporary folder (migrated to head, deleted at the end). With a
PostgreSQL server URL (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) it connects to
that URL's database only to create a scratch database of its own, migrates it to head, runs
there and drops it at the end (also on failure). Traffic goes only to
:class:`~agent_platform.notifications.testing.WebhookReceiver` on 127.0.0.1, a real HTTP server
(not a simulator). The last line printed is a JSON object:

- ``delivery_p95_ms``: publish-to-received latency, one notification at a time, measured from
  before ``publish`` to the receiver's arrival time (target < 100);
- ``direct_post_p95_ms`` and ``delivery_p95_ratio_vs_direct_post``: the same receiver hit by a
  plain httpx POST of the same signed body, interleaved, as the floor the outbox adds to;
- ``throughput_per_s``: notifications delivered per second draining a backlog with no faults;
- ``success_rate_under_faults``: delivered / published with 30 % of requests faulted (500, 503,
  dropped connection, 429, timeout, and ``late``: accepted after the client timed out, so its
  retry is a duplicate the receiver recognises by ``webhook-id``) after retries (target 1.0),
  plus its attempt and duplicate counts.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from agent_platform.db import create_engine_for, is_postgres
from agent_platform.migrate import upgrade
from agent_platform.notifications import Dispatcher, NotificationEvent, NotificationPublisher
from agent_platform.notifications.tables import outbox
from agent_platform.notifications.testing import ReceivedRequest, WebhookReceiver
from agent_platform.schemas.notifications import NotificationsConfig
from agent_platform.stats import percentile
from bench._harness import emit, p95, ratio, scratch_postgres_database

SECRET_ENV = "BENCH_WEBHOOK_SECRET"
SECRET = "whsec_YmVuY2gtb25seS1zZWNyZXQtMjQtYnl0ZXM="  # bench-only, loopback-only key
FAULT_RATE = 0.3
FAULT_KINDS = ("500", "503", "drop", "429", "timeout", "late")


def _config(url: str, **overrides: Any) -> NotificationsConfig:
    data: dict[str, Any] = {
        "retry": {"max_attempts": 25, "base_s": 0.005, "cap_s": 0.05},
        "circuit": {"failure_threshold": 1000, "open_s": 0.05},
        "dispatcher": {
            "batch_size": 200,
            "lease_s": 30,
            "poll_interval_s": 0.05,
            "max_workers": 16,
        },
        "security": {"allow_cidrs": ["127.0.0.1/32"]},
        "destinations": [
            {
                "name": "bench",
                "type": "webhook",
                "url": url,
                "secret_env": SECRET_ENV,
                "timeout_s": 0.25,
            }
        ],
    }
    data.update(overrides)
    return NotificationsConfig.model_validate(data)


def measure_latency(engine: Engine, rx: WebhookReceiver, samples: int) -> dict[str, Any]:
    """Publish one at a time with a dispatcher running; time publish -> arrival, and a raw POST."""
    env = {SECRET_ENV: SECRET}
    config = _config(rx.url("/latency"))
    stop = threading.Event()
    dispatcher = Dispatcher(engine, config, environ=env)
    worker = threading.Thread(target=dispatcher.run, kwargs={"stop": stop}, daemon=True)
    worker.start()
    publisher = NotificationPublisher(engine, config, environ=env, on_enqueue=dispatcher.wake)
    delivery: list[float] = []
    direct: list[float] = []
    missed = 0
    with httpx.Client() as client:
        for i in range(samples + 10):
            got = _one_delivery(publisher, rx, f"lat-{i}")
            raw = _one_direct_post(client, rx, f"raw-{i}")
            if got is None or raw is None:
                missed += 1
            elif i >= 10:  # the first ten warm connections and caches
                delivery.append(got)
                direct.append(raw)
    stop.set()
    dispatcher.wake()
    worker.join(timeout=30)
    dispatcher.close()
    return {"delivery": delivery, "direct": direct, "missed": missed}


def _arrival(rx: WebhookReceiver, correlation_id: str) -> float | None:
    """The receiver's clock when ``correlation_id`` arrived (waits for it, bounded)."""

    def seen(requests: list[ReceivedRequest]) -> bool:
        return any(r.correlation_id == correlation_id and r.delivered for r in requests[-20:])

    if not rx.wait_for(seen, timeout=10):
        return None
    for request in reversed(rx.requests()[-20:]):
        if request.correlation_id == correlation_id and request.delivered:
            return request.perf_counter
    return None


def _one_delivery(publisher: NotificationPublisher, rx: WebhookReceiver, cid: str) -> float | None:
    start = time.perf_counter()
    publisher.publish("bench.latency", {"cid": cid}, correlation_id=cid)
    arrived = _arrival(rx, cid)
    return None if arrived is None else (arrived - start) * 1000.0


def _one_direct_post(client: httpx.Client, rx: WebhookReceiver, cid: str) -> float | None:
    body = b'{"correlation_id":"' + cid.encode() + b'","data":{"cid":"' + cid.encode() + b'"}}'
    start = time.perf_counter()
    response = client.post(
        rx.url("/direct"), content=body, headers={"content-type": "application/json"}
    )
    arrived = _arrival(rx, cid)
    if response.status_code != 200 or arrived is None:
        return None
    return (arrived - start) * 1000.0


def drain_backlog(
    engine: Engine, rx: WebhookReceiver, count: int, path: str, faults: bool
) -> dict[str, Any]:
    """Publish ``count`` at once, then time one dispatcher draining them."""
    env = {SECRET_ENV: SECRET}
    config = _config(rx.url(path))
    if faults:
        rx.retry_after = "0"
        rx.hang_s = 0.5
        rx.set_fault_rate(FAULT_RATE, kinds=FAULT_KINDS, seed=20)
    publisher = NotificationPublisher(engine, config, environ=env)
    events = [NotificationEvent(f"bench.{path.strip('/')}", {"n": n}) for n in range(count)]
    publisher.publish_batch(events)
    start = time.perf_counter()
    with Dispatcher(engine, config, environ=env) as dispatcher:
        stats = dispatcher.run(until_idle=True, max_seconds=300)
    elapsed = time.perf_counter() - start
    rx.set_fault_rate(0.0)
    with engine.connect() as conn:
        delivered = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(
                outbox.c.status == "delivered",
                outbox.c.destination == "bench",
                outbox.c.event_type == f"bench.{path.strip('/')}",
            )
        ).scalar_one()
    requests = [r for r in rx.requests() if r.path == path]
    return {
        "published": count,
        "delivered": int(delivered),
        "elapsed_s": elapsed,
        "attempts": stats.delivered + stats.retrying + stats.failed,
        "retried_attempts": stats.retrying,
        "faults_injected": sum(1 for r in requests if r.fault),
        "duplicate_deliveries": sum(1 for r in requests if r.delivered)
        - len({r.webhook_id for r in requests if r.delivered}),
    }


def _figures(
    latency: dict[str, Any], clean: dict[str, Any], chaos: dict[str, Any], backend: str
) -> dict[str, Any]:
    """The JSON figures, every one computed from this run's samples and counts."""
    delivery_p95 = p95(latency["delivery"])
    direct_p95 = p95(latency["direct"])
    return {
        "benchmark": "notifications",
        "receiver": "real HTTP server on 127.0.0.1 (not simulated)",
        "database_backend": backend,
        "machine": platform.node(),
        "latency_samples": len(latency["delivery"]),
        "latency_missed": latency["missed"],
        "delivery_p95_ms": round(delivery_p95, 3),
        "delivery_p50_ms": round(percentile(latency["delivery"], 50), 3),
        "direct_post_p95_ms": round(direct_p95, 3),
        "delivery_p95_ratio_vs_direct_post": round(ratio(delivery_p95, direct_p95), 3),
        "throughput_per_s": round(clean["delivered"] / clean["elapsed_s"], 1),
        "throughput_published": clean["published"],
        "throughput_delivered": clean["delivered"],
        "fault_rate_injected": FAULT_RATE,
        "faults_published": chaos["published"],
        "faults_delivered": chaos["delivered"],
        "faults_injected": chaos["faults_injected"],
        "faults_attempts": chaos["attempts"],
        "faults_duplicate_deliveries": chaos["duplicate_deliveries"],
        "success_rate_under_faults": round(chaos["delivered"] / chaos["published"], 6),
    }


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        yield url


def run(url: str, database: str, samples: int, backlog: int, faulted: int) -> dict[str, Any]:
    """Every measurement against the migrated database at ``url``; returns the figures."""
    engine = create_engine_for(url)
    try:
        with WebhookReceiver(secret=SECRET, unsigned_paths=["/direct"]) as rx:
            print(f"latency: {samples} sequential notifications", file=sys.stderr)
            latency = measure_latency(engine, rx, samples)
            print(f"throughput: draining {backlog}", file=sys.stderr)
            clean = drain_backlog(engine, rx, backlog, "/throughput", faults=False)
            print(f"faults: draining {faulted} with {FAULT_RATE:.0%} faults", file=sys.stderr)
            chaos = drain_backlog(engine, rx, faulted, "/faults", faults=True)
        backend = engine.url.get_backend_name()
    finally:
        engine.dispose()
    return {**_figures(latency, clean, chaos, backend), "database": database}


def _postgres_url(parser: argparse.ArgumentParser, value: str) -> str:
    try:
        postgres = is_postgres(value)
    except ArgumentError:
        postgres = False
    if not postgres:
        parser.error("--database-url takes a PostgreSQL server URL (SQLite is the default)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL: a scratch database is created there and dropped after "
        "(default: a temporary SQLite file)",
    )
    args = parser.parse_args(argv)
    sizes = (50, 200, 200) if args.quick else (300, 1000, 1000)
    if args.database_url is None:
        with sqlite_database() as url:
            figures = run(url, "temporary SQLite file, deleted after", *sizes)
    else:
        server_url = _postgres_url(parser, args.database_url)
        with scratch_postgres_database(server_url, prefix="ap_bench_notify_") as url:
            figures = run(
                url, "scratch PostgreSQL database, created and dropped by this run", *sizes
            )
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
