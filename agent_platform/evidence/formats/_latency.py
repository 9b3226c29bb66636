"""Sample-plus-statistics latency tables shared by the state and router formats.

A latency file holds every measured sample (``percentile=sample``) and, per group, the p50,
p95 and p99 computed with :func:`agent_platform.stats.percentile` from those samples as
written. :func:`stat_mismatches` recomputes every statistic row from the samples of its group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from agent_platform.evidence.csvio import fmt_ms, round_ms
from agent_platform.stats import percentile

__all__ = ["PERCENTILES", "group_stats", "stat_mismatches"]

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))
TOLERANCE_MS = 10**-4


def group_stats(
    groups: Mapping[tuple[str, ...], Sequence[float]],
) -> list[tuple[tuple[str, ...], str, str]]:
    """``(group, percentile label, formatted value)`` for every group, from rounded samples."""
    out: list[tuple[tuple[str, ...], str, str]] = []
    for key, values in groups.items():
        rounded = [round_ms(v) for v in values]
        for label, q in PERCENTILES:
            out.append((key, label, fmt_ms(percentile(rounded, q))))
    return out


def stat_mismatches(
    samples: Mapping[tuple[str, ...], Sequence[float]],
    stats: Iterable[tuple[tuple[str, ...], str, float]],
) -> list[str]:
    """Statistic rows that do not recompute from the samples of their group."""
    wanted = dict(PERCENTILES)
    problems: list[str] = []
    for key, label, value in stats:
        values = samples.get(key)
        if label not in wanted:
            problems.append(f"group {key}: unknown statistic {label!r}")
        elif not values:
            problems.append(f"group {key}: {label} row without samples")
        else:
            expected = round_ms(percentile(values, wanted[label]))
            if abs(expected - value) > TOLERANCE_MS:
                problems.append(f"group {key}: {label}={value} but the samples give {expected}")
    return problems


def grouped(rows: Iterable[tuple[tuple[str, ...], float]]) -> dict[tuple[str, ...], list[float]]:
    """Collect ``(group, value)`` pairs into lists per group."""
    out: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for key, value in rows:
        out[key].append(value)
    return dict(out)
