"""Latency distributions per subsystem, one chart each, drawn from the samples in the files.

Latencies span decades (a cache hit and a ledger append differ a hundredfold), so the axis is
logarithmic. Each group (an operation, a task type, a channel, a scenario) is labelled with its
n and its p50/p95/p99 recomputed from the same samples. With enough samples per group
(:data:`HISTOGRAM_MIN_N`) each group is a step histogram over log-spaced bins; with fewer, a
histogram would be a few lonely bars, so every sample is drawn as a dot on its group's row.
Statistic rows of a file (``percentile`` other than ``sample``) are never drawn: only
measured samples are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.charts._canvas import PALETTE, new_figure, save_png
from agent_platform.evidence.charts._read import floats_by, rows_of
from agent_platform.stats import percentile

__all__ = [
    "draw_distribution",
    "notification_samples",
    "orchestration_samples",
    "router_samples",
    "state_samples",
]

BINS = 40
HISTOGRAM_MIN_N = 30


def state_samples(path: Path) -> dict[str, list[float]]:
    """State-fabric call latency per operation (get, save, ledger append)."""
    rows = rows_of(path, ("operation", "latency_ms", "percentile"))
    return floats_by(
        path, rows, lambda r: r["operation"] if r["percentile"] == "sample" else None, "latency_ms"
    )


def router_samples(path: Path) -> dict[str, list[float]]:
    """Routing decision latency per task type."""
    rows = rows_of(path, ("task_type", "decision_ms", "percentile"))
    return floats_by(
        path, rows, lambda r: r["task_type"] if r["percentile"] == "sample" else None, "decision_ms"
    )


def notification_samples(path: Path) -> dict[str, list[float]]:
    """Publish-to-delivery time (retries and backoff included) of delivered attempts, per
    channel."""
    rows = rows_of(path, ("status", "channel", "end_to_end_ms"))
    return floats_by(
        path, rows, lambda r: r["channel"] if r["status"] == "delivered" else None, "end_to_end_ms"
    )


def orchestration_samples(path: Path) -> dict[str, list[float]]:
    """Latency per refinement loop of the measured (not warm-up) graph runs, per scenario."""
    rows = rows_of(path, ("scenario", "latency_per_loop_ms", "warmup"))
    return floats_by(
        path,
        rows,
        lambda r: r["scenario"] if r["warmup"] != "true" else None,
        "latency_per_loop_ms",
    )


def _edges(values: Sequence[float]) -> list[float]:
    low = max(min(values), 1e-4)
    high = max(max(values), low * 1.01)
    step = (math.log10(high) - math.log10(low)) / BINS
    return [10 ** (math.log10(low) + i * step) for i in range(BINS + 1)]


def _label(name: str, values: Sequence[float]) -> str:
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    return f"{name} (n={len(values)}; p50 {p50:.3g}, p95 {p95:.3g}, p99 {p99:.3g} ms)"


def _histograms(axis: Any, groups: Mapping[str, list[float]]) -> None:
    edges = _edges([v for values in groups.values() for v in values])
    for number, (name, values) in enumerate(sorted(groups.items())):
        clipped = [min(max(v, edges[0]), edges[-1]) for v in values]
        axis.hist(
            clipped,
            bins=edges,
            histtype="step",
            lw=1.6,
            color=PALETTE[number % len(PALETTE)],
            label=_label(name, values),
        )
    axis.set_ylabel("samples per bin")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _strips(axis: Any, groups: Mapping[str, list[float]]) -> None:
    names = sorted(groups)
    for row, name in enumerate(names):
        values = sorted(groups[name])
        jitter = [row + 0.3 * ((i % 7) / 6 - 0.5) for i in range(len(values))]
        axis.scatter(
            [max(v, 1e-4) for v in values],
            jitter,
            s=18,
            alpha=0.8,
            color=PALETTE[row % len(PALETTE)],
        )
    axis.set_yticks(
        range(len(names)), [_label(n, groups[n]).replace(" (", "\n(") for n in names], fontsize=8
    )
    axis.invert_yaxis()


def draw_distribution(
    groups: Mapping[str, Sequence[float]], title: str, out: Path, *, source: Path
) -> Path:
    """Draw every non-empty group of ``groups`` on one log-scaled latency axis into ``out``."""
    present = {name: list(values) for name, values in groups.items() if values}
    if not present:
        raise EvidenceError(f"{source}: no latency samples to draw")
    figure, axis = new_figure(11.0, max(4.0, 1.5 + 0.6 * len(present)))
    if min(len(v) for v in present.values()) >= HISTOGRAM_MIN_N:
        _histograms(axis, present)
    else:
        _strips(axis, present)
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms, log scale)")
    axis.set_title(title, fontweight="bold")
    axis.grid(alpha=0.3)
    return save_png(figure, out)
