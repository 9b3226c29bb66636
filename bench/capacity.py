"""What one PostgreSQL primary and one Redis give agent runs: commits/s, ledger appends/s, ops/s.

Run as::

    uv run python -m bench.capacity [--seconds 5] [--clients 1,4]
        [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/15]

For each client count, for ``--seconds``, with that many threads each holding one connection:

- ``pg_commits_per_s``: one-row INSERT + COMMIT per transaction into a scratch table (each
  commit waits for the WAL flush: the ceiling of durable writes);
- ``ledger_appends_per_s``: ``Ledger.append_event`` of a 300-byte payload, each thread on a
  ledger of its own (hash chain, compare-and-set on the head, one transaction per append:
  what an agent run does per node);
- ``redis_ops_per_s``: one ``INCR`` round trip at a time per client, on a key of its own.

Everything runs in a scratch database (migrated, dropped at the end) and under a scratch Redis
key prefix (deleted at the end). The machine is shared, so the load average is printed with the
figures. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa

from agent_platform.db import create_engine_for
from agent_platform.state.ledger_replay import Ledger
from bench._harness import emit, scratch_postgres_database

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def _rate(clients: int, seconds: float, make_step: Callable[[int], Callable[[], None]]) -> float:
    """Operations per second of ``clients`` threads each calling its step until time is up."""
    steps = [make_step(i) for i in range(clients)]
    counts = [0] * clients
    stop = threading.Event()

    def work(index: int) -> None:
        step = steps[index]
        while not stop.is_set():
            step()
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def _pg_commit_step(engine: sa.Engine) -> Callable[[int], Callable[[], None]]:
    def make(index: int) -> Callable[[], None]:
        insert = sa.text("INSERT INTO bench_commits (client, at) VALUES (:c, clock_timestamp())")

        def step() -> None:
            with engine.begin() as conn:
                conn.execute(insert, {"c": index})

        return step

    return make


def _ledger_step(engine: sa.Engine) -> Callable[[int], Callable[[], None]]:
    payload = {"node": "coder", "text": "x" * 300}

    def make(index: int) -> Callable[[], None]:
        ledger = Ledger(engine, f"bench:capacity:{uuid.uuid4().hex}:{index}")

        def step() -> None:
            ledger.append_event("node_finished", payload)

        return step

    return make


def _redis_step(client: redis.Redis, prefix: str) -> Callable[[int], Callable[[], None]]:
    def make(index: int) -> Callable[[], None]:
        key = f"{prefix}{index}"

        def step() -> None:
            client.incr(key)

        return step

    return make


def measure(server: str, redis_url: str, clients: list[int], seconds: float) -> dict[str, Any]:
    prefix = f"bench:capacity:{uuid.uuid4().hex[:8]}:"
    figures: dict[str, Any] = {}
    with scratch_postgres_database(server, "bench_capacity_") as url:
        engine = create_engine_for(url, pool_size=max(clients) + 2)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE bench_commits (client int, at timestamptz)"))
        client = redis.Redis.from_url(redis_url)
        try:
            for n in clients:
                figures[f"pg_commits_per_s_{n}"] = round(
                    _rate(n, seconds, _pg_commit_step(engine)), 1
                )
                figures[f"ledger_appends_per_s_{n}"] = round(
                    _rate(n, seconds, _ledger_step(engine)), 1
                )
                figures[f"redis_ops_per_s_{n}"] = round(
                    _rate(n, seconds, _redis_step(client, prefix)), 1
                )
                print(
                    f"clients={n}: "
                    + ", ".join(f"{k}={v}" for k, v in figures.items() if k.endswith(f"_{n}")),
                    flush=True,
                )
        finally:
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
            engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("AGENT_PLATFORM_BENCH_PG_ADMIN_URL") or DEFAULT_SERVER,
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("AGENT_PLATFORM_BENCH_REDIS_URL") or DEFAULT_REDIS
    )
    args = parser.parse_args(argv)
    clients = [int(x) for x in args.clients.split(",")]
    load = os.getloadavg()
    print(f"load average at start: {load} on {os.cpu_count()} cores", flush=True)
    figures = measure(args.server_url, args.redis_url, clients, args.seconds)
    emit(
        {"bench": "capacity", "seconds": args.seconds, **figures, "load_average_start": list(load)}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
