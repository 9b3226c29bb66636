"""Where each evidence file lives, which workload writes it and which subsystem it measures.

The one table of evidence paths: the Dagster assets write to these paths, the gate reads them,
the validator checks them. Paths are relative to an evidence root (the project root in a real
run, a temporary folder in tests) so nothing is ever hard-wired to the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GATE_PATH",
    "MANIFEST_DIR",
    "SUBSYSTEMS",
    "VALIDATION_PATH",
    "WORKLOADS",
    "EvidenceLayout",
    "Workload",
]

STATE_LATENCY = "metrics/performance/state_cache_latency.csv"
ROUTING_ACCURACY = "metrics/quality/model_routing_accuracy.csv"
ROUTER_LATENCY = "metrics/performance/model_router_latency.csv"
ROUTER_FAILOVER = "metrics/quality/router_failover.csv"
DELIVERY_LOG = "notifications/delivery_log.csv"
BUDGET_REPORT = "metrics/cost/budget_report.csv"
BUDGET_ALERTS = "metrics/cost/budget_alerts.csv"
BUDGET_WINDOWS = "metrics/cost/budget_windows.csv"
BUDGET_CONCURRENCY = "metrics/cost/budget_concurrency.csv"
ORCHESTRATION_RUNS = "metrics/performance/orchestration_runs.csv"
GUARD_CORPUS = "metrics/quality/guard_corpus.csv"
PKG_REPORT_MD = "evidence/pkg_reality_report.md"
PKG_REPORT_JSON = "evidence/pkg_reality_report.json"
RESIDENCY_CSV = "metrics/compliance/vendor_region_distribution.csv"

GATE_PATH = "evidence/gates/g1_architecture.json"
VALIDATION_PATH = "evidence/validation/phase1_contract_validation.json"
MANIFEST_DIR = "evidence/manifests"


@dataclass(frozen=True)
class Workload:
    """One measured workload: the asset family that runs it and the files it writes."""

    name: str
    subsystem: str
    files: tuple[str, ...]


WORKLOADS: tuple[Workload, ...] = (
    Workload("state_fabric", "state_fabric", (STATE_LATENCY,)),
    Workload("router_decisions", "router", (ROUTING_ACCURACY, ROUTER_LATENCY)),
    Workload("router_failover", "router", (ROUTER_FAILOVER,)),
    Workload("notifications", "notifications", (DELIVERY_LOG,)),
    Workload("finops", "finops", (BUDGET_REPORT, BUDGET_ALERTS, BUDGET_WINDOWS)),
    Workload("budget_concurrency", "finops", (BUDGET_CONCURRENCY,)),
    Workload("orchestration", "orchestration", (ORCHESTRATION_RUNS, GUARD_CORPUS)),
    Workload("packages", "packages", (PKG_REPORT_MD, PKG_REPORT_JSON)),
    Workload("residency", "residency", (RESIDENCY_CSV,)),
)

SUBSYSTEMS: tuple[str, ...] = (
    "state_fabric",
    "orchestration",
    "router",
    "notifications",
    "finops",
    "residency",
    "packages",
)


def workload(name: str) -> Workload:
    """The workload called ``name``; unknown names are a programming error."""
    for item in WORKLOADS:
        if item.name == name:
            return item
    raise KeyError(f"unknown workload {name!r}; known: {[w.name for w in WORKLOADS]}")


@dataclass(frozen=True)
class EvidenceLayout:
    """Evidence paths resolved against one root folder."""

    root: Path

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def gate(self) -> Path:
        return self.root / GATE_PATH

    @property
    def validation(self) -> Path:
        return self.root / VALIDATION_PATH

    def manifest(self, workload_name: str) -> Path:
        return self.root / MANIFEST_DIR / f"{workload_name}.json"
