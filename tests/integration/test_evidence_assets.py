"""Every runtime-backed evidence asset materializes against real PostgreSQL and Redis.

Reduced workload sizes, and smaller overrides for the slowest workloads, keep the suite short:
the figures are not held to thresholds here (the checks are tested in test_evidence_checks.py),
only the files, their manifests and the backends they ran on. The package report is left out:
it queries the public registries, and tests talk to loopback only.
"""

import math
from pathlib import Path

import pytest
from dagster import (
    ExecuteInProcessResult,
    FloatMetadataValue,
    IntMetadataValue,
    materialize,
)

from agent_platform.evidence import layout as paths
from agent_platform.evidence.figures import workload_figures
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.layout import EvidenceLayout, workload
from agent_platform.evidence.manifest import read_manifest
from assets.budget_concurrency import budget_concurrency
from assets.finops import budget_report
from assets.notifications import notification_delivery_log
from assets.orchestration import orchestration_runs
from assets.router import model_routing_accuracy, router_failover
from assets.state_fabric import state_cache_latency
from assets.supply_chain import vendor_region_distribution
from jobs.resources import (
    DatabaseResource,
    EvidenceResource,
    NotificationResource,
    RedisResource,
    RouterResource,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The FinOps month replay needs ~20,000 reservations to reach the monthly cap (minutes on a
# shared server): three days prove the asset on these backends; the gate runs the whole month.
OVERRIDES = {
    "finops": {"days": 3},
    "router_decisions": {"decisions": 4},
    "router_failover": {"requests": 12},
    "orchestration": {"warmup": 1, "repeats": 0},
}
WORKLOADS = (
    "state_fabric",
    "router_decisions",
    "router_failover",
    "notifications",
    "finops",
    "budget_concurrency",
    "orchestration",
    "residency",
)


ASSET_WORKLOADS = {
    "state_cache_latency": "state_fabric",
    "model_routing_accuracy": "router_decisions",
    "router_failover": "router_failover",
    "notification_delivery_log": "notifications",
    "budget_report": "finops",
    "budget_concurrency": "budget_concurrency",
    "orchestration_runs": "orchestration",
    "vendor_region_distribution": "residency",
}


def _assert_typed_figures(result: ExecuteInProcessResult, lay: EvidenceLayout) -> None:
    """Each family asset carries every figure of its files, typed, under ``subsystem.figure``."""
    events = result.get_asset_materialization_events()
    assert len(events) == len(ASSET_WORKLOADS)
    for event in events:
        materialization = event.materialization
        name = ASSET_WORKLOADS[materialization.asset_key.to_user_string()]
        subsystem = workload(name).subsystem
        metadata = materialization.metadata
        for figure, value in workload_figures(lay, name).items():
            entry = metadata[f"{subsystem}.{figure}"]
            if isinstance(value, float) and math.isfinite(value):
                assert isinstance(entry, FloatMetadataValue) and entry.value == value, figure
            elif isinstance(value, int) and not isinstance(value, bool):
                assert isinstance(entry, IntMetadataValue) and entry.value == value, figure


def test_assets_materialize_on_postgres_and_redis(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    resources = {
        "evidence": EvidenceResource(root=str(tmp_path), scale="reduced", overrides=OVERRIDES),
        "database": DatabaseResource(url=pg_url),
        "redis": RedisResource(url=redis_url),
        "notifications": NotificationResource(),
        "router": RouterResource(),
    }
    assets = [
        state_cache_latency,
        model_routing_accuracy,
        router_failover,
        notification_delivery_log,
        budget_report,
        budget_concurrency,
        orchestration_runs,
        vendor_region_distribution,
    ]
    result = materialize(assets, resources=resources)
    assert result.success
    lay = EvidenceLayout(tmp_path)
    _assert_typed_figures(result, lay)
    manifests = {name: read_manifest(lay, name) for name in WORKLOADS}
    for name, manifest in manifests.items():
        assert manifest is not None and manifest.run_id == result.run_id, name
        assert manifest.workload_sizes["scale"] == "reduced"
    state = manifests["state_fabric"]
    assert state is not None and state.backends == {"database": "postgresql", "cache": "redis"}
    for name in ("finops", "budget_concurrency", "router_decisions", "router_failover"):
        manifest = manifests[name]
        assert manifest is not None and manifest.backends["budget_store"] == "redis", name
    rows = (tmp_path / paths.BUDGET_REPORT).read_text().splitlines()
    assert rows[0].startswith(
        "date,phase,daily_spend_eur,daily_cap_eur,monthly_spend_eur,monthly_cap_eur"
    )
    assert len(rows) == 1 + 3
    windows = (tmp_path / paths.BUDGET_WINDOWS).read_text().splitlines()
    assert len(windows) == 1 + 3 + 1  # three days and their month, read back from Redis
    finops = workload_figures(lay, "finops")
    assert finops["commits_over_reserve"] != 0 and finops["budget_breaches"] != NOT_MEASURED
    delivered = workload_figures(lay, "notifications")
    assert int(delivered["delivery_success_rate__n"]) > 25
    assert delivered["correlation_id_coverage"] == delivered["delivery_success_rate"] == 1.0
    burst = workload_figures(lay, "budget_concurrency")
    assert burst["concurrent_reservations"] == 64 and burst["concurrent_budget_breaches"] == 0
    assert 0 < int(burst["concurrent_held"]) < 64
    decisions = workload_figures(lay, "router_decisions")
    assert decisions["routing_decisions"] == 4 and decisions["providers_simulated"] is True
    failover = workload_figures(lay, "router_failover")
    assert failover["request_success_rate"] != NOT_MEASURED
    graph = workload_figures(lay, "orchestration")
    assert graph["cold_start_ms"] != NOT_MEASURED
    assert graph["graph_loop_latency_p95_ms"] == NOT_MEASURED  # only the warm-up ran
    assert (graph["policy_violations_missed"], graph["guard_false_positives"]) == (0, 0)
