"""The one Dagster ``Definitions`` of the evidence code location.

Resources read their URLs through ``EnvVar`` at run time (never shown in the UI). A variable
that is not set at all selects the embedded default instead: only its *presence* is looked at
here, because an ``EnvVar`` pointing at an unset variable fails the run rather than falling
back, and "nothing configured" must mean "embedded defaults".
"""

import os

from dagster import (
    AssetChecksDefinition,
    AssetsDefinition,
    AssetSelection,
    Definitions,
    EnvVar,
    define_asset_job,
)

from agent_platform.config import DATABASE_URL_ENV, REDIS_URL_ENV, project_root
from agent_platform.evidence.contract_model import load_contract
from assets.budget_concurrency import budget_concurrency, concurrency_checks
from assets.finops import budget_report, finops_checks
from assets.gate import build_gate_asset, gate_status_check
from assets.notifications import notification_checks, notification_delivery_log
from assets.orchestration import orchestration_checks, orchestration_runs
from assets.report import g1_evidence_report
from assets.router import model_routing_accuracy, router_checks, router_failover
from assets.state_fabric import state_cache_latency, state_checks
from assets.supply_chain import (
    package_checks,
    pkg_reality_report,
    residency_checks,
    vendor_region_distribution,
)
from jobs.agent_run import agent_run
from jobs.inbox_sensor import build_inbox_sensor
from jobs.resources import (
    DEFAULT_CONTRACT,
    DatabaseResource,
    EvidenceResource,
    NotificationResource,
    RedisResource,
    RouterResource,
)
from jobs.schedules import build_daily_schedule
from jobs.sensors import build_budget_sensor, build_check_failure_sensor

__all__ = ["EVIDENCE_ASSETS", "G1_JOB_NAME", "build_resources", "defs"]

G1_JOB_NAME = "g1_gate_evidence"
SCALE_ENV = "AGENT_PLATFORM_EVIDENCE_SCALE"
EVIDENCE_ROOT_ENV = "AGENT_PLATFORM_EVIDENCE_ROOT"

EVIDENCE_ASSETS: list[AssetsDefinition] = [
    state_cache_latency,
    model_routing_accuracy,
    router_failover,
    notification_delivery_log,
    budget_report,
    budget_concurrency,
    orchestration_runs,
    pkg_reality_report,
    vendor_region_distribution,
]


def _env(name: str) -> str | EnvVar:
    return EnvVar(name) if name in os.environ else ""


def build_resources() -> dict[str, object]:
    """Resources on the environment's backends (embedded defaults when nothing is set)."""
    return {
        "evidence": EvidenceResource(root=_env(EVIDENCE_ROOT_ENV), scale=_env(SCALE_ENV) or "full"),
        "database": DatabaseResource(url=_env(DATABASE_URL_ENV)),
        "redis": RedisResource(url=_env(REDIS_URL_ENV)),
        "notifications": NotificationResource(),
        "router": RouterResource(),
    }


def _checks() -> list[AssetChecksDefinition]:
    """Every threshold of the contract as a check, plus the gate's own status check."""
    contract = load_contract(project_root() / DEFAULT_CONTRACT)
    return [
        *state_checks(contract),
        *router_checks(contract),
        *notification_checks(contract),
        *finops_checks(contract),
        *concurrency_checks(contract),
        *orchestration_checks(contract),
        *package_checks(contract),
        *residency_checks(contract),
        gate_status_check,
    ]


gate_asset = build_gate_asset([a.key for a in EVIDENCE_ASSETS])
g1_gate_evidence = define_asset_job(
    G1_JOB_NAME,
    selection=AssetSelection.all(),
    description="Run every evidence workload, check every figure, then compute the G1 gate.",
)

CHECKS = _checks()

defs = Definitions(
    assets=[*EVIDENCE_ASSETS, gate_asset, g1_evidence_report],
    asset_checks=CHECKS,
    jobs=[g1_gate_evidence, agent_run],
    schedules=[build_daily_schedule(g1_gate_evidence)],
    sensors=[
        build_budget_sensor(),
        build_check_failure_sensor([k for c in CHECKS for k in c.check_keys]),
        build_inbox_sensor(),
    ],
    resources=build_resources(),
)
