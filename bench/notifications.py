"""Notification benchmark: publish -> outbox -> dispatcher(s) -> a real loopback HTTP receiver.

Run as::

    uv run python -m bench.notifications [--quick]
    uv run python -m bench.notifications --database-url postgresql://postgres@127.0.0.1:5432/postgres --dispatchers 2

Without a URL it uses a fresh SQLite file in a temporary folder (migrated to head, deleted at
the end) and one dispatcher thread in the benchmark's process, woken by the publisher. With a
PostgreSQL server URL it connects to that URL's database only to create a scratch database of
its own, migrates it to head, runs there and drops it at the end (also on failure).
``--dispatchers N`` (N >= 2, PostgreSQL only) runs N dispatcher *processes* (real
multiprocessing, spawned) sharing the outbox through ``SKIP LOCKED`` leases and woken by
PostgreSQL ``NOTIFY`` when the publisher's transaction commits. Traffic goes only to
:class:`~agent_platform.notifications.testing.WebhookReceiver` on 127.0.0.1, a real HTTP server
(not a simulator), which verifies every signature.

Each repeat (3 by default, ``--repeats``) measures, with its baseline beside it:

- ``delivery_p95_ratio_vs_direct_post``: p95 publish-to-received latency, one notification at
  a time, measured from before ``publish`` to the receiver's arrival time, over the p95 of a
  plain keep-alive ``httpx.Client`` POST of a signed body to the same receiver, interleaved
  (the baseline the issue's 5.4x was measured against);
- ``throughput_per_s``: notifications delivered (and recorded) per second draining a backlog
  with no faults, beside ``direct_post_throughput_per_s``: the same number of signed POSTs
  sent straight to the receiver by as many processes and threads as the dispatchers have;
- ``success_rate_under_faults``: delivered / published (``faults_published``) with 30 % of
  requests faulted (500, 503, dropped connection, 429, timeout, and ``late``: accepted after
  the client timed out, so its retry is a duplicate the receiver recognises by ``webhook-id``)
  after retries (target 1.0), plus the attempt rows recorded beside the requests the receiver
  saw (one attempt row per HTTP request) and the duplicates received.

The last line printed is a JSON object: per figure ``k`` the median over the repeats ``k``,
``k_spread`` (max - min) and ``k_runs`` (see :func:`bench._harness.repeat_median`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError
from standardwebhooks.webhooks import Webhook

from agent_platform.db import create_engine_for, is_postgres
from agent_platform.migrate import upgrade
from agent_platform.notifications import Dispatcher, NotificationEvent, NotificationPublisher
from agent_platform.notifications.tables import delivery_attempts, outbox
from agent_platform.notifications.testing import ReceivedRequest, WebhookReceiver
from agent_platform.schemas.notifications import NotificationsConfig
from agent_platform.stats import percentile
from bench._harness import emit, p95, ratio, repeat_median, scratch_postgres_database

SECRET_ENV = "BENCH_WEBHOOK_SECRET"
SECRET = "whsec_YmVuY2gtb25seS1zZWNyZXQtMjQtYnl0ZXM="  # bench-only, loopback-only key
ENV = {SECRET_ENV: SECRET}
FAULT_RATE = 0.3
FAULT_KINDS = ("500", "503", "drop", "429", "timeout", "late")
PHASES = ("latency", "throughput", "faults")
MAX_WORKERS = 16
_SETTLE_TIMEOUT_S = 300.0


def bench_config(base_url: str) -> dict[str, Any]:
    """One destination per phase (``bench.<phase>.*`` events to ``/<phase>``), as plain data
    so that dispatcher processes can be handed it."""
    return {
        "retry": {"max_attempts": 25, "base_s": 0.005, "cap_s": 0.05},
        "circuit": {"failure_threshold": 1000, "open_s": 0.05},
        "dispatcher": {
            "batch_size": 200,
            "lease_s": 30,
            "poll_interval_s": 0.05,
            "max_workers": MAX_WORKERS,
        },
        "security": {"allow_cidrs": ["127.0.0.1/32"]},
        "destinations": [
            {
                "name": f"bench-{phase}",
                "type": "webhook",
                "url": f"{base_url}/{phase}",
                "secret_env": SECRET_ENV,
                "events": [f"bench.{phase}.*"],
                "timeout_s": 0.25,
            }
            for phase in PHASES
        ],
    }


# -- dispatchers ---------------------------------------------------------------------------


def _dispatcher_process(url: str, data: dict[str, Any], stop: ProcessEvent, ready: Any) -> None:
    """A dispatcher process: runs until ``stop`` is set (then finishes what is in flight)."""
    engine = create_engine_for(url)
    halt = threading.Event()
    with Dispatcher(engine, NotificationsConfig.model_validate(data), environ=ENV) as dispatcher:

        def relay() -> None:
            stop.wait()
            halt.set()
            dispatcher.wake()

        threading.Thread(target=relay, daemon=True).start()
        ready.put(dispatcher.worker_id)
        dispatcher.run(stop=halt)
    engine.dispose()


@contextmanager
def dispatchers(url: str, data: dict[str, Any], count: int) -> Iterator[Callable[[], None] | None]:
    """``count`` dispatchers: one thread here (yields its ``wake``) or processes (yields None)."""
    if count == 1:
        engine = create_engine_for(url)
        halt = threading.Event()
        dispatcher = Dispatcher(engine, NotificationsConfig.model_validate(data), environ=ENV)
        worker = threading.Thread(target=dispatcher.run, kwargs={"stop": halt}, daemon=True)
        worker.start()
        try:
            yield dispatcher.wake
        finally:
            halt.set()
            dispatcher.wake()
            worker.join(timeout=60)
            dispatcher.close()
            engine.dispose()
        return
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Queue()
    processes = [
        context.Process(target=_dispatcher_process, args=(url, data, stop, ready), daemon=True)
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=120)
        yield None
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()


# -- measurements --------------------------------------------------------------------------


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


class DirectPoster:
    """Signed POSTs straight to the receiver with a plain ``httpx.Client`` (keep-alive): what
    an application would do without the outbox, and the baseline the issue was measured by."""

    def __init__(self, port: int, path: str) -> None:
        self._client = httpx.Client(timeout=10)
        self._url = f"http://127.0.0.1:{port}{path}"
        self._signer = Webhook(SECRET)

    def post(self, message_id: str, cid: str) -> bool:
        body = f'{{"correlation_id":"{cid}","data":{{"cid":"{cid}"}}}}'
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message_id, now, body),
        }
        response = self._client.post(self._url, content=body.encode(), headers=headers)
        return response.status_code == 200

    def close(self) -> None:
        self._client.close()


def measure_latency(
    publisher: NotificationPublisher, rx: WebhookReceiver, samples: int, tag: str
) -> dict[str, float]:
    """Publish one at a time; time publish -> arrival, interleaved with a direct POST."""
    delivery: list[float] = []
    direct: list[float] = []
    missed = 0
    poster = DirectPoster(rx.port, "/direct")
    try:
        for i in range(samples + 10):
            cid = f"{tag}-lat-{i}"
            start = time.perf_counter()
            publisher.publish(f"bench.latency.{tag}", {"cid": cid}, correlation_id=cid)
            got = _arrival(rx, cid)
            raw_cid = f"{tag}-raw-{i}"
            raw_start = time.perf_counter()
            ok = poster.post(f"msg_{raw_cid}", raw_cid)
            raw = _arrival(rx, raw_cid) if ok else None
            if got is None or raw is None:
                missed += 1
            elif i >= 10:  # the first ten warm connections and caches
                delivery.append((got - start) * 1000.0)
                direct.append((raw - raw_start) * 1000.0)
    finally:
        poster.close()
    delivery_p95, direct_p95 = p95(delivery), p95(direct)
    return {
        "latency_samples": float(len(delivery)),
        "latency_missed": float(missed),
        "delivery_p95_ms": delivery_p95,
        "delivery_p50_ms": percentile(delivery, 50),
        "direct_post_p95_ms": direct_p95,
        "delivery_p95_ratio_vs_direct_post": ratio(delivery_p95, direct_p95),
    }


def _settled(engine: Engine, event_type: str) -> tuple[int, int, int]:
    """(rows still pending, rows delivered, attempt rows) of ``event_type``."""
    rows = sa.select(outbox.c.id).where(outbox.c.event_type == event_type)
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(outbox.c.status, sa.func.count())
                .where(outbox.c.event_type == event_type)
                .group_by(outbox.c.status)
            ).all()
        )
        attempts = conn.execute(
            sa.select(sa.func.count())
            .select_from(delivery_attempts)
            .where(delivery_attempts.c.outbox_id.in_(rows))
        ).scalar_one()
    return int(counts.get("pending", 0)), int(counts.get("delivered", 0)), int(attempts)


def drain_backlog(
    engine: Engine, publisher: NotificationPublisher, count: int, event_type: str
) -> dict[str, float]:
    """Publish ``count`` at once; time until every row is settled and recorded."""
    publisher.publish_batch([NotificationEvent(event_type, {"n": n}) for n in range(count)])
    start = time.perf_counter()
    deadline = start + _SETTLE_TIMEOUT_S
    pending = count
    while time.perf_counter() < deadline:
        pending, _, _ = _settled(engine, event_type)
        if pending == 0:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    _, delivered, attempts = _settled(engine, event_type)
    return {"elapsed_s": elapsed, "delivered": float(delivered), "attempts": float(attempts)}


def _direct_process(
    port: int, path: str, prefix: str, count: int, threads: int, ready: Any, go: ProcessEvent
) -> None:
    """``threads`` threads sending ``count`` signed POSTs between them, once ``go`` is set."""

    def work(offset: int) -> None:
        poster = DirectPoster(port, path)
        try:
            go.wait()
            for n in range(offset, count, threads):
                if not poster.post(f"msg_{prefix}_{n}", f"{prefix}-{n}"):
                    raise RuntimeError("the receiver refused a direct POST")
        finally:
            poster.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.put(prefix)
    for worker in workers:
        worker.join()


def direct_throughput(rx: WebhookReceiver, count: int, processes: int, tag: str) -> float:
    """Signed POSTs per second straight to the receiver, from as many processes and threads as
    the dispatchers have, all started before the clock does; timed from the first arrival to
    the last."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Queue(), context.Event()
    share = count // processes
    path = "/direct-throughput"
    jobs = [
        context.Process(
            target=_direct_process,
            args=(rx.port, path, f"{tag}-{i}", share, MAX_WORKERS, ready, go),
        )
        for i in range(processes)
    ]
    for job in jobs:
        job.start()
    for _ in jobs:
        ready.get(timeout=120)
    go.set()
    for job in jobs:
        job.join(timeout=300)
    arrivals = [
        r.perf_counter
        for r in rx.requests()
        if r.path == path and r.delivered and (r.webhook_id or "").startswith(f"msg_{tag}-")
    ]
    if len(arrivals) < share * processes:
        raise RuntimeError(f"direct throughput: {len(arrivals)} of {share * processes} arrived")
    span = max(arrivals) - min(arrivals)
    return len(arrivals) / span if span > 0 else float("nan")


def one_repeat(
    engine: Engine,
    publisher: NotificationPublisher,
    rx: WebhookReceiver,
    sizes: tuple[int, int, int],
    processes: int,
    tag: str,
) -> dict[str, float]:
    """Every figure of one repeat, each beside its baseline measured in this repeat."""
    samples, backlog, faulted = sizes
    print(f"[{tag}] latency: {samples} sequential notifications", file=sys.stderr)
    figures = measure_latency(publisher, rx, samples, tag)
    print(f"[{tag}] throughput: draining {backlog}, then as many direct POSTs", file=sys.stderr)
    clean = drain_backlog(engine, publisher, backlog, f"bench.throughput.{tag}")
    direct = direct_throughput(rx, backlog, processes, tag)
    print(f"[{tag}] faults: draining {faulted} with {FAULT_RATE:.0%} faults", file=sys.stderr)
    rx.set_fault_rate(FAULT_RATE, kinds=FAULT_KINDS, seed=20)
    try:
        chaos = drain_backlog(engine, publisher, faulted, f"bench.faults.{tag}")
    finally:
        rx.set_fault_rate(0.0)
    faults_seen = _received(engine, rx, f"bench.faults.{tag}")
    delivered_ids = [r.webhook_id for r in faults_seen if r.delivered]
    throughput = clean["delivered"] / clean["elapsed_s"]
    return {
        **figures,
        "throughput_per_s": throughput,
        "throughput_published": float(backlog),
        "throughput_delivered": clean["delivered"],
        "direct_post_throughput_per_s": direct,
        "throughput_ratio_vs_direct_post": ratio(throughput, direct),
        "faults_published": float(faulted),
        "faults_delivered": chaos["delivered"],
        "faults_injected": float(sum(1 for r in faults_seen if r.fault)),
        "faults_attempts": chaos["attempts"],
        "faults_requests_received": float(len(faults_seen)),
        "faults_duplicate_deliveries": float(len(delivered_ids) - len(set(delivered_ids))),
        "success_rate_under_faults": chaos["delivered"] / faulted,
    }


def _received(engine: Engine, rx: WebhookReceiver, event_type: str) -> list[ReceivedRequest]:
    """Every request the receiver saw for a row of ``event_type`` (by ``webhook-id``)."""
    with engine.connect() as conn:
        ids = set(
            conn.execute(sa.select(outbox.c.id).where(outbox.c.event_type == event_type)).scalars()
        )
    return [r for r in rx.requests() if r.webhook_id in ids]


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        yield url


def run(
    url: str, sizes: tuple[int, int, int], processes: int, repeats: int
) -> tuple[dict[str, Any], str]:
    """Every repeat against the migrated database at ``url``; the figures and the backend."""
    engine = create_engine_for(url)
    try:
        with WebhookReceiver(secret=SECRET, hang_s=0.5, retry_after="0") as rx:
            data = bench_config(f"http://127.0.0.1:{rx.port}")
            config = NotificationsConfig.model_validate(data)
            with dispatchers(url, data, processes) as wake:
                publisher = NotificationPublisher(engine, config, environ=ENV, on_enqueue=wake)
                counter = iter(range(1, repeats + 1))
                figures = repeat_median(
                    lambda: one_repeat(
                        engine, publisher, rx, sizes, processes, f"r{next(counter)}"
                    ),
                    repeats,
                )
        return figures, engine.url.get_backend_name()
    finally:
        engine.dispose()


def _postgres_url(parser: argparse.ArgumentParser, value: str) -> str:
    try:
        postgres = is_postgres(value)
    except ArgumentError:
        postgres = False
    if not postgres:
        parser.error("--database-url takes a PostgreSQL server URL (SQLite is the default)")
    return value


def _arguments(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL: a scratch database is created there and dropped after "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--dispatchers",
        type=int,
        default=1,
        help="dispatcher processes (default 1: a thread in this process); 2 or more need "
        "--database-url, as only PostgreSQL wakes other processes",
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats (median reported)")
    args = parser.parse_args(argv)
    if not 1 <= args.dispatchers <= 8:
        parser.error(f"--dispatchers takes 1 to 8, got {args.dispatchers}")
    if args.repeats < 1:
        parser.error(f"--repeats takes 1 or more, got {args.repeats}")
    if args.dispatchers > 1 and args.database_url is None:
        parser.error("--dispatchers above 1 needs --database-url (a PostgreSQL server)")
    return parser, args


def main(argv: list[str] | None = None) -> int:
    parser, args = _arguments(argv)
    sizes = (50, 300, 200) if args.quick else (300, 3000, 1000)
    processes = args.dispatchers
    if args.database_url is None:
        where = "temporary SQLite file, deleted after"
        with sqlite_database() as url:
            figures, backend = run(url, sizes, processes, args.repeats)
    else:
        server_url = _postgres_url(parser, args.database_url)
        where = "scratch PostgreSQL database, created and dropped by this run"
        with scratch_postgres_database(server_url, prefix="ap_bench_notify_") as url:
            figures, backend = run(url, sizes, processes, args.repeats)
    emit(
        {
            "benchmark": "notifications",
            "receiver": "real HTTP server on 127.0.0.1 (not simulated)",
            "direct_post_client": "httpx.Client keep-alive, signed body, same receiver",
            "database_backend": backend,
            "database": where,
            "dispatchers": processes,
            "dispatcher_mode": "thread in this process" if processes == 1 else "processes",
            "repeats": args.repeats,
            "fault_rate_injected": FAULT_RATE,
            "machine": platform.node(),
            **figures,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
