"""Every runtime-backed evidence asset materializes against real PostgreSQL and Redis.

Reduced workload sizes keep the suite short; the figures are not held to thresholds here (the
checks are tested in test_evidence_checks.py), only the files, their manifests and backends.
"""

import json
from pathlib import Path

import pytest
from dagster import materialize

from agent_platform.evidence import layout as paths
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.manifest import read_manifest
from assets.finops import budget_report
from assets.notifications import notification_delivery_log
from assets.state_fabric import state_cache_latency
from assets.supply_chain import vendor_region_distribution
from jobs.resources import DatabaseResource, EvidenceResource, NotificationResource, RedisResource

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_assets_materialize_on_postgres_and_redis(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    evidence = EvidenceResource(root=str(tmp_path), scale="reduced")
    resources = {
        "evidence": evidence,
        "database": DatabaseResource(url=pg_url),
        "redis": RedisResource(url=redis_url),
        "notifications": NotificationResource(),
    }
    assets = [
        state_cache_latency,
        notification_delivery_log,
        budget_report,
        vendor_region_distribution,
    ]
    result = materialize(assets, resources=resources)
    assert result.success
    lay = EvidenceLayout(tmp_path)
    run_id = result.run_id
    for name in ("state_fabric", "notifications", "finops", "residency"):
        manifest = read_manifest(lay, name)
        assert manifest is not None and manifest.run_id == run_id
    state_manifest = read_manifest(lay, "state_fabric")
    assert state_manifest is not None
    assert state_manifest.backends == {"database": "postgresql", "cache": "redis"}
    budget = read_manifest(lay, "finops")
    assert budget is not None and budget.backends["budget_store"] == "redis"
    rows = (tmp_path / paths.BUDGET_REPORT).read_text().splitlines()
    assert rows[0].startswith(
        "date,phase,daily_spend_eur,daily_cap_eur,monthly_spend_eur,monthly_cap_eur"
    )
    assert len(rows) == 31
    log = (tmp_path / paths.DELIVERY_LOG).read_text().splitlines()
    assert len(log) > 25 and all(line.split(",")[2] for line in log[1:])
    assert json.loads(json.dumps(state_manifest.workload_sizes))["scale"] == "reduced"
