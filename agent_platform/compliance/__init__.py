"""EU data-residency decisions shared by the router (at request time) and the CLI checker."""

from agent_platform.compliance.report import (
    ResidencyReport,
    check_residency,
    load_residency_config,
    routing_providers,
    run_residency_check,
    write_distribution_csv,
)
from agent_platform.compliance.residency import ResidencyDecision, evaluate_vendor

__all__ = [
    "ResidencyDecision",
    "ResidencyReport",
    "check_residency",
    "evaluate_vendor",
    "load_residency_config",
    "routing_providers",
    "run_residency_check",
    "write_distribution_csv",
]
