"""Which charts a run gets, the files each is drawn from, and drawing them all.

:func:`render_charts` draws every chart of :data:`CHARTS` from the evidence files under a
layout's root into ``evidence/charts/``. A chart whose files are missing or unreadable is not
drawn and says why (its old PNG, from an earlier run, is removed so a report can never show a
stale picture as this run's); every other error is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.charts.budget import draw_budget
from agent_platform.evidence.charts.latency import (
    draw_distribution,
    notification_samples,
    orchestration_samples,
    router_samples,
    state_samples,
)
from agent_platform.evidence.charts.outcomes import draw_delivery, draw_failover
from agent_platform.evidence.layout import EvidenceLayout

__all__ = ["CHARTS", "CHARTS_DIR", "ChartResult", "ChartSpec", "render_charts"]

CHARTS_DIR = "evidence/charts"

Draw = Callable[[Sequence[Path], Path], Path]


@dataclass(frozen=True)
class ChartSpec:
    """One chart: its file name, title, the subsystem it illustrates and its source files."""

    name: str
    title: str
    subsystem: str
    sources: tuple[str, ...]
    draw: Draw

    @property
    def path(self) -> str:
        return f"{CHARTS_DIR}/{self.name}.png"


@dataclass(frozen=True)
class ChartResult:
    """A chart of this run: drawn at ``path``, or not drawn for ``reason``."""

    spec: ChartSpec
    drawn: bool
    reason: str = ""


def _latency(samples: Callable[[Path], dict[str, list[float]]], title: str) -> Draw:
    def draw(sources: Sequence[Path], out: Path) -> Path:
        return draw_distribution(samples(sources[0]), title, out, source=sources[0])

    return draw


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "budget_burn",
        "Budget burn over the replayed month",
        "finops",
        (paths.BUDGET_REPORT, paths.BUDGET_ALERTS),
        lambda s, o: draw_budget(s[0], s[1], o),
    ),
    ChartSpec(
        "latency_state",
        "State fabric call latency",
        "state_fabric",
        (paths.STATE_LATENCY,),
        _latency(state_samples, "State fabric: call latency per operation"),
    ),
    ChartSpec(
        "latency_router",
        "Routing decision latency",
        "router",
        (paths.ROUTER_LATENCY,),
        _latency(router_samples, "Router: decision latency per task type"),
    ),
    ChartSpec(
        "failover_outcomes",
        "Failover outcomes by provider",
        "router",
        (paths.ROUTER_FAILOVER,),
        lambda s, o: draw_failover(s[0], o),
    ),
    ChartSpec(
        "latency_notifications",
        "Notification delivery latency",
        "notifications",
        (paths.DELIVERY_LOG,),
        _latency(notification_samples, "Notifications: publish-to-delivery time per channel"),
    ),
    ChartSpec(
        "delivery_attempts",
        "Delivery attempts and retries by destination",
        "notifications",
        (paths.DELIVERY_LOG,),
        lambda s, o: draw_delivery(s[0], o),
    ),
    ChartSpec(
        "latency_orchestration",
        "Orchestration latency per loop",
        "orchestration",
        (paths.ORCHESTRATION_RUNS,),
        _latency(orchestration_samples, "Orchestration: latency per refinement loop"),
    ),
)


def _render(lay: EvidenceLayout, spec: ChartSpec) -> ChartResult:
    out = lay.path(spec.path)
    sources = [lay.path(rel) for rel in spec.sources]
    missing = [rel for rel, path in zip(spec.sources, sources, strict=True) if not path.is_file()]
    try:
        if missing:
            raise EvidenceError(f"not drawn: {', '.join(missing)} missing in this run")
        spec.draw(sources, out)
    except EvidenceError as exc:
        out.unlink(missing_ok=True)
        return ChartResult(spec, drawn=False, reason=str(exc))
    return ChartResult(spec, drawn=True)


def render_charts(lay: EvidenceLayout, charts: Sequence[ChartSpec] = CHARTS) -> list[ChartResult]:
    """Draw ``charts`` from the evidence under ``lay.root``; one result per chart, in order."""
    return [_render(lay, spec) for spec in charts]
