"""State-fabric benchmark: the repository and the ledger against raw drivers, side by side.

Run as ``uv run python -m bench.state_fabric [--quick] [--repeats N]``. It creates (and drops)
its own scratch PostgreSQL database on 127.0.0.1:5432, migrated to head, and uses Redis on
127.0.0.1:6379 under a unique key prefix whose keys it deletes at the end. Measured calls and
their baselines are interleaved, and the whole measurement is repeated (3 times by default):
each figure is the median over the repeats, with ``<figure>_spread`` (max - min) and
``<figure>_runs`` (every repeat's value) beside it. The ledgers are anchored as in production
(a checkpoint signed every 1,000 entries, into a temporary folder), so the appends pay for it.
The last line printed is a JSON object of the figures:

- ``get_p95_ratio_vs_redis_py``: cached ``StateRepository.get`` vs a raw redis-py GET of a value
  of the same size (target <= 1.5);
- ``save_p95_ratio_vs_psycopg``: durable ``save`` (commit + hash index + audit + cache) vs a raw
  psycopg upsert + commit (target <= 2);
- ``ledger_append_p95_ratio_vs_insert``: ``Ledger.append_event`` vs a raw INSERT + commit
  (target <= 3);
- ``ledger_batch_appends_per_s``: ``append_many`` throughput (target >= 5,000);
- ``ledger_checkpoint_ms``: signing a head 1,000 entries past the previous checkpoint (the walk
  from it, the signature, the fsync);
- ``ledger_verify_1m_s``: seconds to verify 1,000,000 entries (target < 30; ``--quick`` verifies
  fewer and reports ``ledger_verify_entries`` accordingly, with the 1M figure NOT_MEASURED).

``targets`` restates those targets and ``meets_targets`` compares each measured figure with its
target (``NOT_MEASURED`` where the figure was not measured in this run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from agent_platform.db import create_engine_for
from agent_platform.state.cache import RedisCache
from agent_platform.state.ledger.chain import GENESIS_HASH, EntryHasher
from agent_platform.state.ledger.checkpoints import CheckpointLog
from agent_platform.state.ledger_replay import Ledger, LedgerAnchor
from agent_platform.state.repository import StateRepository
from bench._harness import (
    NOT_MEASURED,
    emit,
    p95,
    ratio,
    repeat_median,
    scratch_postgres_database,
    time_interleaved,
)

PG_ADMIN_URL = os.environ.get(
    "AGENT_PLATFORM_BENCH_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AGENT_PLATFORM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Sizes:
    calls: int
    warmup: int
    batches: int
    batch_size: int
    verify_entries: int


FULL = Sizes(calls=2000, warmup=100, batches=20, batch_size=1000, verify_entries=1_000_000)
QUICK = Sizes(calls=300, warmup=30, batches=5, batch_size=1000, verify_entries=50_000)


def _payload(size: int = 1024) -> dict[str, Any]:
    return {"kind": "bench", "steps": list(range(8)), "blob": "x" * size}


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bench_get(
    repo: StateRepository, raw: redis.Redis, prefix: str, sizes: Sizes
) -> dict[str, float]:
    repo.save("bench-get", _payload())
    repo.get("bench-get")
    value = raw.get(f"{prefix}state:bench-get")
    if value is None:
        raise RuntimeError("the repository did not populate the cache")
    raw.set(f"{prefix}raw-get", value)
    raw_key = f"{prefix}raw-get"
    samples = time_interleaved(
        {"repo": lambda: repo.get("bench-get"), "raw": lambda: raw.get(raw_key)},
        sizes.calls * 3,  # cheap calls: more samples steady the p95
        sizes.warmup,
        chunk=1,  # alternate every call, so bursts of load on a shared machine hit both sides
    )
    return {"get_p95_ms": p95(samples["repo"]), "redis_py_get_p95_ms": p95(samples["raw"])}


def bench_save(repo: StateRepository, pg: psycopg.Connection, sizes: Sizes) -> dict[str, float]:
    payload = _payload()
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()
    counter = iter(range(10**9))
    sql = (
        "INSERT INTO sessions (id, payload, payload_hash, updated_at) VALUES (%s, %s, %s, now()) "
        "ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, "
        "payload_hash = excluded.payload_hash, updated_at = excluded.updated_at"
    )

    def raw_save() -> None:
        with pg.cursor() as cur:
            cur.execute(sql, (f"raw-{next(counter) % 100}", body.decode(), digest))
        pg.commit()

    ids = iter(range(10**9))
    samples = time_interleaved(
        {"repo": lambda: repo.save(f"s-{next(ids) % 100}", payload), "raw": raw_save},
        sizes.calls,
        sizes.warmup,
    )
    return {"save_p95_ms": p95(samples["repo"]), "psycopg_upsert_p95_ms": p95(samples["raw"])}


def bench_append(ledger: Ledger, pg: psycopg.Connection, sizes: Sizes) -> dict[str, float]:
    payload = {"node": "coder", "tokens": 512, "note": "y" * 256}
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    seqs = iter(range(1, 10**9))
    raw_ledger = f"raw-{uuid.uuid4().hex[:8]}"  # each repeat inserts from seq 1 again
    sql = (
        "INSERT INTO ledger_entries (ledger, seq, event_type, payload, checksum, prev_hash, "
        "entry_hash, created_at) VALUES (%s, %s, 'bench.step', %s, %s, %s, %s, now())"
    )

    def raw_insert() -> None:
        with pg.cursor() as cur:
            cur.execute(sql, (raw_ledger, next(seqs), body, digest, digest, digest))
        pg.commit()

    samples = time_interleaved(
        {"ledger": lambda: ledger.append_event("bench.step", payload), "raw": raw_insert},
        sizes.calls,
        sizes.warmup,
    )
    return {
        "ledger_append_p95_ms": p95(samples["ledger"]),
        "raw_insert_p95_ms": p95(samples["raw"]),
    }


def bench_batch(engine: Engine, anchor: LedgerAnchor, sizes: Sizes) -> float:
    ledger = Ledger(engine, "batched", anchor=anchor)
    events = [("bench.batch", {"i": i, "note": "z" * 128}) for i in range(sizes.batch_size)]
    ledger.append_many(events)
    start = time.perf_counter()
    for _ in range(sizes.batches):
        ledger.append_many(events)
    elapsed = time.perf_counter() - start
    return sizes.batches * sizes.batch_size / elapsed


def bench_checkpoint(engine: Engine, anchor: LedgerAnchor) -> float:
    """Milliseconds to sign a head 1,000 entries past the ledger's previous checkpoint."""
    ledger = Ledger(engine, f"signed-{uuid.uuid4().hex[:8]}", anchor=anchor)
    ledger.append_event("bench.start", {})
    ledger.checkpoint()
    ledger.append_many([("bench.step", {"i": i, "note": "c" * 128}) for i in range(1000)])
    start = time.perf_counter()
    ledger.checkpoint()
    return (time.perf_counter() - start) * 1000.0


@dataclass
class Rig:
    """What one repeat measures against, built once."""

    engine: Engine
    url: str
    repo: StateRepository
    raw_redis: redis.Redis
    prefix: str
    anchor: LedgerAnchor


def measure(rig: Rig, sizes: Sizes) -> dict[str, float]:
    """One repeat: every side-by-side pair and its ratio, and the throughputs."""
    with psycopg.connect(_libpq(rig.url)) as pg:
        out = bench_get(rig.repo, rig.raw_redis, rig.prefix, sizes)
        out |= bench_save(rig.repo, pg, sizes)
        out |= bench_append(Ledger(rig.engine, "bench", anchor=rig.anchor), pg, sizes)
    out["get_p95_ratio_vs_redis_py"] = ratio(out["get_p95_ms"], out["redis_py_get_p95_ms"])
    out["save_p95_ratio_vs_psycopg"] = ratio(out["save_p95_ms"], out["psycopg_upsert_p95_ms"])
    out["ledger_append_p95_ratio_vs_insert"] = ratio(
        out["ledger_append_p95_ms"], out["raw_insert_p95_ms"]
    )
    out["ledger_batch_appends_per_s"] = bench_batch(rig.engine, rig.anchor, sizes)
    out["ledger_checkpoint_ms"] = bench_checkpoint(rig.engine, rig.anchor)
    return out


def _bulk_rows(count: int) -> Iterator[tuple[Any, ...]]:
    hasher = EntryHasher()
    prev = GENESIS_HASH
    now = datetime.now(UTC)
    for seq in range(1, count + 1):
        body = f'{{"i":{seq},"node":"coder","ok":true}}'
        checksum = hashlib.sha256(body.encode()).hexdigest()
        digest = hasher(seq, "graph.step", checksum, prev)
        yield ("bulk", seq, "graph.step", body, checksum, prev, digest, now)
        prev = digest


def bulk_load(url: str, count: int) -> float:
    """COPY ``count`` valid chained entries into ledger 'bulk'; returns seconds taken."""
    start = time.perf_counter()
    last = GENESIS_HASH
    with psycopg.connect(_libpq(url)) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY ledger_entries (ledger, seq, event_type, payload, checksum, prev_hash, "
                "entry_hash, created_at) FROM STDIN"
            ) as copy,
        ):
            for row in _bulk_rows(count):
                copy.write_row(row)
                last = row[6]
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_heads (ledger, head_seq, head_hash, updated_at) "
                "VALUES ('bulk', %s, %s, now())",
                (count, last),
            )
            cur.execute("ANALYZE ledger_entries")
        conn.commit()
    return time.perf_counter() - start


def _verify_bulk(engine: Engine) -> dict[str, float]:
    verification = Ledger(engine, "bulk").verify()
    if not verification.ok:
        raise RuntimeError(f"bulk ledger failed verification: {verification}")
    return {"ledger_verify_s": verification.elapsed_s}


def run(sizes: Sizes, repeats: int) -> dict[str, Any]:
    prefix = f"apbench:{uuid.uuid4().hex[:10]}:"
    raw_redis = redis.Redis.from_url(REDIS_URL)
    result: dict[str, Any] = {
        "backends": {"database": "postgresql", "cache": "redis"},
        "loadavg_1m_at_start": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "repeats": repeats,
    }
    try:
        with (
            scratch_postgres_database(PG_ADMIN_URL, prefix="ap_bench_") as url,
            tempfile.TemporaryDirectory(prefix="ap_bench_anchor_") as folder,
        ):
            engine = create_engine_for(url)
            cache = RedisCache(REDIS_URL, prefix=prefix)
            anchor = LedgerAnchor(CheckpointLog(Path(folder) / "cp"), Path(folder) / "key.pem")
            rig = Rig(engine, url, StateRepository(engine, cache), raw_redis, prefix, anchor)
            result |= repeat_median(lambda: measure(rig, sizes), repeats)
            result["ledger_verify_entries"] = sizes.verify_entries
            result["ledger_bulk_load_s"] = bulk_load(url, sizes.verify_entries)
            result |= repeat_median(lambda: _verify_bulk(engine), repeats)
            cache.close()
            engine.dispose()
    finally:
        keys = list(raw_redis.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            raw_redis.delete(*keys)
        raw_redis.close()
    return result


TARGETS: dict[str, tuple[str, float]] = {
    "get_p95_ratio_vs_redis_py": ("<=", 1.5),
    "save_p95_ratio_vs_psycopg": ("<=", 2.0),
    "ledger_append_p95_ratio_vs_insert": ("<=", 3.0),
    "ledger_batch_appends_per_s": (">=", 5000.0),
    "ledger_verify_1m_s": ("<", 30.0),
}
"""The issue's targets: figure -> (comparison, limit)."""


def _meets(value: Any, op: str, limit: float) -> bool | str:
    """Whether the measured ``value`` meets its target; NOT_MEASURED when it was not measured."""
    if not isinstance(value, int | float) or math.isnan(value):
        return NOT_MEASURED
    if op == "<=":
        return bool(value <= limit)
    if op == ">=":
        return bool(value >= limit)
    return bool(value < limit)


def figures(raw: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    """The target verdicts for the medians measured by :func:`run` (each ratio is the median
    of the per-repeat ratios, not a ratio of medians)."""
    out = dict(raw)
    full = sizes.verify_entries == 1_000_000
    out["ledger_verify_1m_s"] = raw["ledger_verify_s"] if full else NOT_MEASURED
    out["calls_per_side"] = sizes.calls
    out["loadavg_1m_at_end"] = os.getloadavg()[0]
    out["targets"] = {key: f"{op} {limit:g}" for key, (op, limit) in TARGETS.items()}
    out["meets_targets"] = {
        key: _meets(out[key], op, limit) for key, (op, limit) in TARGETS.items()
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (verify 50k)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure (default 3)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    result = figures(run(sizes, args.repeats), sizes)
    for key in sorted(result):
        if key != "backends" and not key.endswith("_runs"):
            print(f"{key:40s} {result[key]}")
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
