"""A tiny, stable helper shared by the benchmarks: timing loops and the final JSON line.

Every benchmark prints a JSON object as its last line; :func:`emit` does that, as strict JSON:
a figure that could not be computed (NaN or infinity, such as a ratio to a zero baseline) is
written as ``"NOT_MEASURED"``, never as a number. Measured and baseline calls are interleaved by
:func:`time_interleaved` so that drift on a shared machine hits both sides alike. A benchmark
that needs PostgreSQL runs in a database of its own from :func:`scratch_postgres_database`.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.url import make_url

from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade
from agent_platform.stats import percentile

__all__ = [
    "NOT_MEASURED",
    "emit",
    "p95",
    "ratio",
    "repeat_median",
    "scratch_postgres_database",
    "time_calls",
    "time_interleaved",
]

NOT_MEASURED = "NOT_MEASURED"


def time_calls(fn: Callable[[], object], n: int, warmup: int = 0) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``n`` times; returns each call's ms."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        fn()
        samples.append((clock() - start) * 1000.0)
    return samples


def time_interleaved(
    fns: Mapping[str, Callable[[], object]], n: int, warmup: int = 0, chunk: int = 10
) -> dict[str, list[float]]:
    """Time every function ``n`` times, alternating between them in chunks of ``chunk``."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    done = 0
    while done < n:
        size = min(chunk, n - done)
        for name, fn in fns.items():
            samples[name].extend(time_calls(fn, size))
        done += size
    return samples


def p95(samples: list[float]) -> float:
    return percentile(samples, 95)


def ratio(measured: float, baseline: float) -> float:
    """measured / baseline, NaN when the baseline is not positive."""
    return measured / baseline if baseline > 0 else math.nan


def repeat_median(measure: Callable[[], Mapping[str, float]], repeats: int = 3) -> dict[str, Any]:
    """Run ``measure`` ``repeats`` times; per figure, the median, the spread and every run.

    One noisy run on a shared machine must not decide a ratio, so each figure ``k`` that
    ``measure`` returns comes back as ``k`` (the median over the runs), ``k_spread`` (max minus
    min) and ``k_runs`` (the values in run order). A figure missing from a run, or not finite
    in any, makes its median NaN, which :func:`emit` writes as ``NOT_MEASURED``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    runs = [dict(measure()) for _ in range(repeats)]
    out: dict[str, Any] = {}
    for key in sorted({k for run in runs for k in run}):
        values = [float(run.get(key, math.nan)) for run in runs]
        finite = all(math.isfinite(v) for v in values)
        out[key] = statistics.median(values) if finite else math.nan
        out[f"{key}_spread"] = max(values) - min(values) if finite else math.nan
        out[f"{key}_runs"] = values
    return out


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``NOT_MEASURED``."""
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_MEASURED
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def emit(result: Mapping[str, Any]) -> None:
    """Print ``result`` as one strict JSON line; callers print it last."""
    print(json.dumps(_finite(result), sort_keys=True, allow_nan=False), flush=True)


@contextmanager
def scratch_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A database named ``prefix`` + a random suffix on ``server_url``'s PostgreSQL server,
    migrated to head; dropped afterwards, also on failure. Yields its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine_for(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
