"""The residency evidence workload: every configured vendor and every routed provider judged.

It runs the same check as ``scripts/check_residency.py`` (:func:`run_residency_check`, which
judges each vendor with the router's own decision function) on the project's
``configs/vendor_residency.yaml`` and ``configs/model_routing.yaml``; a routed provider
without a residency entry is a violation. The gate does not trust the verdicts it writes: it
re-judges every row (:func:`agent_platform.evidence.formats.compliance.residency_figures`).
"""

from __future__ import annotations

from pathlib import Path

from agent_platform.compliance.report import (
    DEFAULT_RESIDENCY,
    DEFAULT_ROUTING,
    ResidencyReport,
    run_residency_check,
)

__all__ = ["RESIDENCY_INPUTS", "run_residency"]

RESIDENCY_INPUTS = (DEFAULT_RESIDENCY, DEFAULT_ROUTING)


def run_residency(root: Path) -> ResidencyReport:
    """The residency report of the project at ``root``."""
    return run_residency_check(root / DEFAULT_RESIDENCY, root / DEFAULT_ROUTING)
