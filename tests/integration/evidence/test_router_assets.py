"""The router and residency assets are thin: they run the workload, write its files and
declare in the manifest what the files must hold (sample counts, seed, time scale, profile).

Embedded backends (a scratch SQLite file, no Redis) and small overrides; the PostgreSQL and
Redis run is in ``tests/integration/test_evidence_assets.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from dagster import materialize

from agent_platform.evidence import layout as paths
from agent_platform.evidence.figures import workload_figures
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.manifest import read_manifest
from agent_platform.evidence.workloads.router_settings import load_router_evidence
from assets.router import model_routing_accuracy, router_failover
from assets.supply_chain import vendor_region_distribution
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource, RouterResource

OVERRIDES = {"router_decisions": {"decisions": 12}, "router_failover": {"requests": 8}}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_assets_declare_what_their_files_hold(tmp_path: Path) -> None:
    resources = {
        "evidence": EvidenceResource(root=str(tmp_path), scale="reduced", overrides=OVERRIDES),
        "database": DatabaseResource(data_dir=str(tmp_path / "data")),
        "redis": RedisResource(),
        "router": RouterResource(),
    }
    result = materialize(
        [model_routing_accuracy, router_failover, vendor_region_distribution], resources=resources
    )
    assert result.success
    lay, settings = EvidenceLayout(tmp_path), load_router_evidence()
    decisions = read_manifest(lay, "router_decisions")
    assert decisions is not None and decisions.run_id == result.run_id
    assert decisions.declared["samples"] == {paths.ROUTING_ACCURACY: 12, paths.ROUTER_LATENCY: 12}
    assert decisions.declared["time_scale"] == settings.accuracy.time_scale
    assert decisions.declared["hindsight"]["tie_tolerance"] >= 0
    accuracy = _rows(tmp_path / paths.ROUTING_ACCURACY)
    assert len(accuracy) == 12 and {r["simulated"] for r in accuracy} == {"true"}
    failover = read_manifest(lay, "router_failover")
    assert failover is not None and failover.declared["samples"] == {paths.ROUTER_FAILOVER: 8}
    assert failover.declared["seed"] == settings.failover.seed
    assert failover.declared["fault_profile"] == settings.failover.profile
    assert failover.backends["budget_store"] == "sqlite"
    assert {r["simulated"] for r in _rows(tmp_path / paths.ROUTER_FAILOVER)} == {"true"}
    assert workload_figures(lay, "router_failover")["failover_success_rate__n"] == 8
    residency = read_manifest(lay, "residency")
    assert residency is not None and residency.declared["samples"] == {paths.RESIDENCY_CSV: 3}
    assert workload_figures(lay, "residency")["eu_compliance_rate__n"] == 3
