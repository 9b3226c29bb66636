"""Loading the routing config (and the residency config the router consults) from ``configs/``.

Kept apart from the router so the CLI, the evidence job and the tests load exactly the objects
the router uses, validated once, with errors naming file and key.
"""

from __future__ import annotations

from pathlib import Path

from agent_platform.config import Settings, load_yaml_model
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["RESIDENCY_FILE", "ROUTING_FILE", "load_residency", "load_routing"]

ROUTING_FILE = "configs/model_routing.yaml"
RESIDENCY_FILE = "configs/vendor_residency.yaml"


def load_routing(settings: Settings | None = None, path: Path | None = None) -> RoutingConfig:
    """Load and validate ``configs/model_routing.yaml`` (or ``path``).

    Raises:
        ConfigError: naming the file, key, value and what is allowed.
    """
    target = path or (settings or Settings.from_env()).config_path(ROUTING_FILE)
    return load_yaml_model(target, RoutingConfig)


def load_residency(settings: Settings | None = None, path: Path | None = None) -> ResidencyConfig:
    """Load and validate ``configs/vendor_residency.yaml`` (or ``path``)."""
    target = path or (settings or Settings.from_env()).config_path(RESIDENCY_FILE)
    return load_yaml_model(target, ResidencyConfig)
