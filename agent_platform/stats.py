"""Statistics shared by the runtime's counters, the benchmarks and the evidence layer.

One percentile definition for the whole project: **linear interpolation between closest
ranks**, Hyndman & Fan "type 7", which is the default of ``numpy.percentile`` and of
``pandas.Series.quantile``. For sorted values ``x[0..n-1]`` the q-th percentile sits at rank
``h = (n - 1) * q / 100`` and is ``x[floor h] + (h - floor h) * (x[ceil h] - x[floor h])``.
The workloads writing a CSV, the gate reading it and the validator recomputing it all go
through :func:`percentile` (or pandas with its default, the same definition), so a figure
and its recomputation agree exactly.

A rate is reported with its sample size and its Wilson score interval
(:func:`wilson_interval`): a point value of 100 % over 20 trials and over 2,000 trials are
different claims, and a threshold on a rate is judged on the interval's bound, not on the
point value.

This module is pure Python on purpose: the runtime's counters import it, and pandas would
cost a second of import time there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["WILSON_Z95", "percentile", "summarize", "wilson_interval"]

WILSON_Z95 = 1.959963984540054
"""The two-sided 95 % standard normal quantile (``scipy.stats.norm.ppf(0.975)``)."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation (type 7).

    NaN for an empty sequence; ``q`` outside [0, 100] is a ``ValueError``.
    """
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


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``trials`` (95 % by default).

    Why Wilson: unlike the normal ("Wald") interval it stays inside [0, 1] and does not
    collapse to a point at 0 or n successes, which is exactly where the contract's rates live
    (99 %, 100 %). Newcombe (1998) gives the reference values the tests check.

    Raises:
        ValueError: ``trials`` < 1 or ``successes`` outside 0..trials.
    """
    if trials < 1:
        raise ValueError(f"a rate needs at least one trial, got n={trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, got {successes}")
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    scale = 1 + z2 / trials
    low = max(0.0, (centre - spread) / scale)
    high = min(1.0, (centre + spread) / scale)
    return (0.0 if successes == 0 else low, 1.0 if successes == trials else high)
