"""The code location loads, and holds the job, schedule, sensors and one check per threshold."""

import json
from pathlib import Path

from dagster import AssetKey, materialize

from agent_platform.evidence.layout import GATE_PATH
from assets.state_fabric import state_cache_latency
from jobs.definitions import G1_JOB_NAME, defs, gate_asset
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource


def test_definitions_load_with_job_schedule_sensors_and_checks() -> None:
    repository = defs.get_repository_def()
    job = defs.resolve_job_def(G1_JOB_NAME)
    assert {s.name for s in repository.schedule_defs} == {f"{G1_JOB_NAME}_daily"}
    assert {s.name for s in repository.sensor_defs} == {
        "budget_threshold_sensor",
        "gate_check_failure_sensor",
        "agent_inbox_sensor",
    }
    assert defs.resolve_job_def("agent_run").name == "agent_run"
    contract = EvidenceResource().contract()
    checks = {key.name for key in repository.asset_checks_defs_by_key}
    implemented = {a.key for a in repository.assets_defs_by_key.values()}
    assert AssetKey(["g1_architecture_gate"]) in implemented
    assert {AssetKey(["model_routing_accuracy"]), AssetKey(["router_failover"])} <= implemented
    for threshold in contract.metric_thresholds:
        assert threshold.figure in checks, f"no check for {threshold.figure}"
    assert len(checks) == len(contract.metric_thresholds) + 1  # plus the gate's status check
    assert job.name == G1_JOB_NAME


def test_gate_is_not_measured_and_fails_when_a_workload_is_skipped(tmp_path: Path) -> None:
    evidence = EvidenceResource(root=str(tmp_path / "ev"), scale="reduced")
    resources = {
        "evidence": evidence,
        "database": DatabaseResource(data_dir=str(tmp_path / "data")),
        "redis": RedisResource(),
    }
    result = materialize([state_cache_latency, gate_asset], resources=resources)
    assert result.success
    gate = json.loads((tmp_path / "ev" / GATE_PATH).read_text())
    assert gate["status"] == "FAIL"
    assert gate["subsystems"]["notifications"]["status"] == "NOT_MEASURED"
    assert gate["subsystems"]["notifications"]["figures"]["delivery_success_rate"] == "NOT_MEASURED"
    assert gate["subsystems"]["state_fabric"]["status"] in ("PASS", "FAIL")
    assert "metrics/performance/state_cache_latency.csv" in gate["evidence_files"]
