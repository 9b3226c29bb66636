"""Loading ``policies/finops.yaml`` and cross-checking it against the routing config.

The schema validates each file on its own; this module checks what only the pair can tell: every
provider and model the FinOps policy names exists in ``configs/model_routing.yaml``, every
provider currency has a pinned rate, and a reservation outlives a provider call (with its
retry) by a margin.
"""

from __future__ import annotations

from pathlib import Path

from agent_platform.config import Settings, load_yaml_model
from agent_platform.errors import ConfigError
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "FINOPS_FILE",
    "TTL_MARGIN_S",
    "cross_check",
    "load_finops",
    "min_reservation_ttl_s",
]

FINOPS_FILE = "policies/finops.yaml"
TTL_MARGIN_S = 10.0


def load_finops(
    settings: Settings | None = None,
    routing: RoutingConfig | None = None,
    path: Path | None = None,
) -> FinOpsConfig:
    """Load and validate ``policies/finops.yaml``; with ``routing``, cross-check the two.

    Raises:
        ConfigError: naming the file, key, value and what is allowed.
    """
    target = path or (settings or Settings.from_env()).config_path(FINOPS_FILE)
    config = load_yaml_model(target, FinOpsConfig)
    if routing is not None:
        cross_check(config, routing, str(target))
    return config


def cross_check(finops: FinOpsConfig, routing: RoutingConfig, file: str = FINOPS_FILE) -> None:
    """Raise :class:`ConfigError` when ``finops`` names what ``routing`` does not define."""
    known = sorted(routing.providers)
    for number, phase in finops.phases.items():
        for name, limits in phase.providers.items():
            key = f"phases.{number}.providers.{name}"
            provider = routing.providers.get(name)
            if provider is None:
                raise ConfigError(file, key, name, f"a provider of model_routing.yaml: {known}")
            models = sorted(provider.cost_per_1k_tokens)
            for index, model in enumerate(limits.models or []):
                if model not in provider.cost_per_1k_tokens:
                    raise ConfigError(
                        file, f"{key}.models.{index}", model, f"a model of {name}: {models}"
                    )
    rates = sorted(finops.currency.rates_to_eur)
    for name, provider in routing.providers.items():
        if provider.currency != "EUR" and provider.currency not in finops.currency.rates_to_eur:
            raise ConfigError(
                file,
                f"currency.rates_to_eur.{provider.currency}",
                None,
                f"a pinned rate for {name}'s currency (pinned: {rates})",
            )
    timeout = routing.failover.request_timeout_s
    floor = min_reservation_ttl_s(timeout)
    if finops.reservation_ttl_s <= floor:
        raise ConfigError(
            file,
            "reservation_ttl_s",
            finops.reservation_ttl_s,
            f"more than 2 x failover.request_timeout_s + {TTL_MARGIN_S:g} s ({floor:g} s), so "
            "no call can commit after its hold was reclaimed",
        )


def min_reservation_ttl_s(request_timeout_s: float) -> float:
    """The TTL a reservation must exceed: two call timeouts plus :data:`TTL_MARGIN_S`.

    A hold is taken after any backoff and lives for one call bounded by ``request_timeout_s``
    (then commit or release); twice that plus a margin for the settlement round-trip keeps the
    reclaimer from taking a hold whose call can still commit.
    """
    return 2.0 * request_timeout_s + TTL_MARGIN_S
