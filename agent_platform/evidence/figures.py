"""Figures and consistency of each workload, read back from the files it wrote.

The table here is the single map from a workload to the format readers of its files; the gate
and the validator both go through :func:`workload_figures`, which is why a gate figure can be
recomputed from its CSV at any later time.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_platform.evidence import layout as paths
from agent_platform.evidence.formats import (
    compliance,
    concurrency,
    finops,
    notifications,
    orchestration,
    router,
    state,
)
from agent_platform.evidence.layout import EvidenceLayout

__all__ = ["Figures", "workload_consistency", "workload_figures"]

Figures = dict[str, float | int | str]


def _state(lay: EvidenceLayout) -> Figures:
    return state.figures(lay.path(paths.STATE_LATENCY))


def _decisions(lay: EvidenceLayout) -> Figures:
    out = router.accuracy_figures(lay.path(paths.ROUTING_ACCURACY))
    out.update(router.latency_figures(lay.path(paths.ROUTER_LATENCY)))
    return out


def _failover(lay: EvidenceLayout) -> Figures:
    return router.failover_figures(lay.path(paths.ROUTER_FAILOVER))


def _notifications(lay: EvidenceLayout) -> Figures:
    return notifications.figures(lay.path(paths.DELIVERY_LOG))


def _finops(lay: EvidenceLayout) -> Figures:
    out = finops.report_figures(lay.path(paths.BUDGET_REPORT))
    out.update(finops.alert_figures(lay.path(paths.BUDGET_ALERTS)))
    return out


def _concurrency(lay: EvidenceLayout) -> Figures:
    return concurrency.figures(lay.path(paths.BUDGET_CONCURRENCY))


def _orchestration(lay: EvidenceLayout) -> Figures:
    return orchestration.figures(lay.path(paths.ORCHESTRATION_RUNS))


def _packages(lay: EvidenceLayout) -> Figures:
    return compliance.package_figures(lay.path(paths.PKG_REPORT_JSON))


def _residency(lay: EvidenceLayout) -> Figures:
    return compliance.residency_figures(lay.path(paths.RESIDENCY_CSV))


_FIGURES: dict[str, Callable[[EvidenceLayout], Figures]] = {
    "state_fabric": _state,
    "router_decisions": _decisions,
    "router_failover": _failover,
    "notifications": _notifications,
    "finops": _finops,
    "budget_concurrency": _concurrency,
    "orchestration": _orchestration,
    "packages": _packages,
    "residency": _residency,
}

_CONSISTENCY: dict[str, Callable[[EvidenceLayout], list[str]]] = {
    "state_fabric": lambda lay: state.consistency(lay.path(paths.STATE_LATENCY)),
    "router_decisions": lambda lay: router.consistency(
        lay.path(paths.ROUTING_ACCURACY), lay.path(paths.ROUTER_LATENCY)
    ),
    "finops": lambda lay: finops.consistency(lay.path(paths.BUDGET_REPORT)),
    "budget_concurrency": lambda lay: concurrency.consistency(lay.path(paths.BUDGET_CONCURRENCY)),
    "orchestration": lambda lay: orchestration.consistency(lay.path(paths.ORCHESTRATION_RUNS)),
}


def workload_figures(lay: EvidenceLayout, workload: str) -> Figures:
    """The figures of ``workload`` recomputed from its files under ``lay``."""
    return _FIGURES[workload](lay)


def workload_consistency(lay: EvidenceLayout, workload: str) -> list[str]:
    """Statistic rows of the workload's files that do not recompute from their samples."""
    check = _CONSISTENCY.get(workload)
    return check(lay) if check is not None else []
