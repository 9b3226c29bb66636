"""Decide whether a vendor endpoint keeps data in the EU.

One function, :func:`evaluate_vendor`, is the decision; the router calls it on every routing
decision and ``scripts/check_residency.py`` calls it for the report, so the two can never
disagree. A region label alone proves nothing: the endpoint host must be one of the vendor's
EU-pinned hosts (the seed's sample pairs ``api.openai.com`` with ``eu-west-1``, which is exactly
the mistake this catches).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from agent_platform.schemas.residency import ResidencyConfig, VendorResidency

__all__ = ["ResidencyDecision", "endpoint_host", "evaluate_vendor", "is_loopback_host"]

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class ResidencyDecision:
    """The verdict for one vendor; ``reasons`` is empty exactly when ``eu_compliant``."""

    vendor: str
    region: str
    endpoint_host: str
    eu_compliant: bool
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        """All reasons joined with ``; `` (``compliant`` when there are none)."""
        return "; ".join(self.reasons) if self.reasons else "compliant"


def endpoint_host(endpoint: str) -> str:
    """The lower-cased host of an endpoint URL (empty when it has none)."""
    return (urlsplit(endpoint).hostname or "").lower()


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (on-premise endpoints must)."""
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def evaluate_vendor(name: str, config: ResidencyConfig) -> ResidencyDecision:
    """Judge vendor ``name`` against the EU allow-lists in ``config``.

    A vendor missing from the config is a violation, never a pass.
    """
    vendor = config.vendors.get(name)
    if vendor is None:
        return ResidencyDecision(name, "", "", False, ("no residency entry for this provider",))
    host = endpoint_host(vendor.endpoint)
    reasons = _violations(name, vendor, host, config)
    return ResidencyDecision(name, vendor.region, host, not reasons, tuple(reasons))


def _violations(
    name: str, vendor: VendorResidency, host: str, config: ResidencyConfig
) -> list[str]:
    policy = config.policy
    reasons: list[str] = []
    if not host:
        reasons.append(f"endpoint {vendor.endpoint!r} has no host")
    if vendor.on_premise:
        if host and not is_loopback_host(host) and host not in policy.eu_pinned_hosts.get(name, []):
            reasons.append(
                f"on-premise vendor endpoint host {host!r} is not loopback or allow-listed"
            )
        if vendor.logging_enabled and not policy.allow_logging_for_on_premise:
            reasons.append("logging_enabled is true")
    else:
        if vendor.region not in policy.eu_regions:
            reasons.append(f"region {vendor.region!r} is not in the EU allow-list")
        pinned = policy.eu_pinned_hosts.get(name, [])
        if host and host not in pinned:
            reasons.append(
                f"endpoint host {host!r} is not an EU-pinned host for {name} (allowed: {pinned})"
            )
        if vendor.logging_enabled:
            reasons.append("logging_enabled is true")
        if vendor.data_retention is not False:
            reasons.append(f"data_retention is {vendor.data_retention!r}, expected false")
    if not vendor.training_data_opt_out:
        reasons.append("training_data_opt_out is false")
    return reasons
