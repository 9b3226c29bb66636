"""Counters and latency samples of the state repository, readable while it runs.

The evidence job and the workload command read these to report hit ratio, cache outages and
per-operation percentiles; every figure comes from the calls that were actually made.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from agent_platform.stats import summarize

__all__ = ["OPERATIONS", "RepositoryStats", "StatsRecorder"]

OPERATIONS: tuple[str, ...] = ("save", "get", "delete", "save_many", "get_many")


@dataclass(frozen=True)
class RepositoryStats:
    """A snapshot of the repository's counters.

    Attributes:
        hits: reads answered from the cache (``get_many`` counts each key).
        misses: reads the cache could not answer (absent, expired, corrupt or unavailable).
        hit_ratio: hits / (hits + misses); NaN before the first read.
        fallbacks: reads answered from SQL because the cache was unavailable (an outage).
        cache_errors: cache calls that failed or were short-circuited, reads and writes.
        cache_corrupt: cached values whose embedded hash did not match (served from SQL).
        pending_invalidations: keys whose cache update failed and will be deleted on recovery.
        latencies_ms: the retained samples per operation, in milliseconds.
    """

    hits: int
    misses: int
    hit_ratio: float
    fallbacks: int
    cache_errors: int
    cache_corrupt: int
    pending_invalidations: int
    latencies_ms: dict[str, list[float]] = field(repr=False)

    def latency_summary(self) -> dict[str, dict[str, float]]:
        """count, mean, p50, p95, p99 and max per operation that has samples."""
        return {op: summarize(v) for op, v in self.latencies_ms.items() if v}

    def as_dict(self) -> dict[str, Any]:
        """Counters and latency summaries (not the raw samples), JSON-ready."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": self.hit_ratio,
            "fallbacks": self.fallbacks,
            "cache_errors": self.cache_errors,
            "cache_corrupt": self.cache_corrupt,
            "pending_invalidations": self.pending_invalidations,
            "latency_ms": self.latency_summary(),
        }


class StatsRecorder:
    """Thread-safe counters plus a bounded window of latency samples per operation."""

    def __init__(self, max_samples: int = 100_000) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.fallbacks = 0
        self.cache_errors = 0
        self.cache_corrupt = 0
        self._latencies: dict[str, deque[float]] = {
            op: deque(maxlen=max_samples) for op in OPERATIONS
        }

    def read(self, hits: int, misses: int, fallbacks: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses
            self.fallbacks += fallbacks

    def cache_error(self) -> None:
        with self._lock:
            self.cache_errors += 1

    def corrupt(self) -> None:
        with self._lock:
            self.cache_corrupt += 1

    def latency(self, operation: str, seconds: float) -> None:
        # deque.append is atomic under the GIL; no lock on the hot path.
        self._latencies[operation].append(seconds * 1000.0)

    def snapshot(self, pending_invalidations: int) -> RepositoryStats:
        with self._lock:
            total = self.hits + self.misses
            return RepositoryStats(
                hits=self.hits,
                misses=self.misses,
                hit_ratio=self.hits / total if total else float("nan"),
                fallbacks=self.fallbacks,
                cache_errors=self.cache_errors,
                cache_corrupt=self.cache_corrupt,
                pending_invalidations=pending_invalidations,
                latencies_ms={op: list(v) for op, v in self._latencies.items()},
            )
