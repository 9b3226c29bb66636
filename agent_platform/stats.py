"""Latency statistics shared by the runtime's counters, the benchmarks and the evidence assets.

Percentiles use linear interpolation between closest ranks (numpy's default), so a figure
computed here and one recomputed by the contract validator from the raw CSV agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``; NaN for an empty sequence."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Count, mean, p50, p95, p99 and max of ``values``."""
    count = len(values)
    return {
        "count": float(count),
        "mean": sum(values) / count if count else math.nan,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": float(max(values)) if count else math.nan,
    }
