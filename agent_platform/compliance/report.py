"""The residency check over the whole configuration, and its CSV evidence.

Every vendor in ``configs/vendor_residency.yaml`` is judged with :func:`evaluate_vendor` (the
router's own decision function), and every provider named in ``configs/model_routing.yaml`` must
have a residency entry: a provider the router can call but the residency file does not describe
is a violation. The routing file's schema belongs to the router; only its ``providers`` keys
are read here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent_platform.compliance.residency import ResidencyDecision, evaluate_vendor
from agent_platform.config import load_yaml, load_yaml_model, project_root
from agent_platform.errors import ConfigError
from agent_platform.fileio import write_text_atomic
from agent_platform.schemas.residency import ResidencyConfig

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_CSV",
    "DEFAULT_RESIDENCY",
    "DEFAULT_ROUTING",
    "ResidencyReport",
    "check_residency",
    "load_residency_config",
    "render_distribution_csv",
    "routing_providers",
    "run_residency_check",
    "write_distribution_csv",
]

DEFAULT_RESIDENCY = "configs/vendor_residency.yaml"
DEFAULT_ROUTING = "configs/model_routing.yaml"
DEFAULT_CSV = "metrics/compliance/vendor_region_distribution.csv"
CSV_COLUMNS = ("vendor", "region", "endpoint_host", "eu_compliant", "reason")


@dataclass(frozen=True)
class ResidencyReport:
    """Decisions for every vendor and routed provider, in config order then routing order."""

    decisions: tuple[ResidencyDecision, ...]
    providers: tuple[str, ...]

    @property
    def violations(self) -> tuple[ResidencyDecision, ...]:
        return tuple(d for d in self.decisions if not d.eu_compliant)

    @property
    def passed(self) -> bool:
        return bool(self.decisions) and not self.violations


def load_residency_config(path: Path | None = None) -> ResidencyConfig:
    """Load and validate the residency file (default ``configs/vendor_residency.yaml``)."""
    return load_yaml_model(path or project_root() / DEFAULT_RESIDENCY, ResidencyConfig)


def routing_providers(path: Path | None = None) -> tuple[str, ...]:
    """The provider names of the routing config: the keys of its ``providers`` mapping."""
    file = path or project_root() / DEFAULT_ROUTING
    data = load_yaml(file)
    providers = data.get("providers") if isinstance(data, Mapping) else None
    if not isinstance(providers, Mapping) or not providers:
        raise ConfigError(str(file), "providers", providers, "a non-empty mapping of providers")
    return tuple(str(name) for name in providers)


def check_residency(config: ResidencyConfig, providers: Iterable[str]) -> ResidencyReport:
    """Judge every configured vendor plus every routed provider (missing ones fail)."""
    routed = tuple(providers)
    names = list(config.vendors) + [p for p in routed if p not in config.vendors]
    return ResidencyReport(tuple(evaluate_vendor(n, config) for n in names), routed)


def run_residency_check(
    config_path: Path | None = None, routing_path: Path | None = None
) -> ResidencyReport:
    """Load both files and check them; ConfigError when either is missing or invalid."""
    return check_residency(load_residency_config(config_path), routing_providers(routing_path))


def render_distribution_csv(report: ResidencyReport) -> str:
    """The CSV text: one row per vendor with its verdict and the reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in report.decisions:
        writer.writerow(
            [d.vendor, d.region, d.endpoint_host, str(d.eu_compliant).lower(), d.reason]
        )
    return buffer.getvalue()


def write_distribution_csv(report: ResidencyReport, path: Path | None = None) -> Path:
    """Write the CSV atomically (default ``metrics/compliance/vendor_region_distribution.csv``)."""
    target = path or project_root() / DEFAULT_CSV
    write_text_atomic(target, render_distribution_csv(report))
    return target
