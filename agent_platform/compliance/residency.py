"""Decide whether a vendor endpoint keeps data in the EU.

One function, :func:`evaluate_vendor`, is the decision; the router calls it on every routing
decision and ``scripts/check_residency.py`` calls it for the report, so the two can never
disagree. Its location part, :func:`location_reasons`, judges a region and an endpoint host
alone, which is what the distribution CSV records: the gate re-judges every row with it rather
than trusting the stored verdict. A region label alone proves nothing: the endpoint host must be
one of the vendor's EU-pinned hosts (the specification's sample pairs ``api.openai.com`` with
``eu-west-1``, which is exactly the mistake this catches). The EU regions and pinned hosts are
the built-in knowledge of :mod:`agent_platform.compliance.vendors`, extended or replaced by the
config's ``policy:`` section.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from agent_platform.compliance.vendors import EU_PINNED_HOSTS, EU_REGIONS, ON_PREMISE_REGION
from agent_platform.schemas.residency import ResidencyConfig, ResidencyPolicy, VendorResidency

__all__ = [
    "ResidencyDecision",
    "endpoint_host",
    "eu_pinned_hosts",
    "evaluate_vendor",
    "handling_reasons",
    "is_eu_region",
    "is_loopback_host",
    "location_reasons",
]

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


def is_eu_region(region: str, policy: ResidencyPolicy) -> bool:
    """Whether ``region`` is an EU region (built-in list, extended or replaced by ``policy``)."""
    return region in policy.eu_regions or (policy.defaults == "extend" and region in EU_REGIONS)


def eu_pinned_hosts(vendor: str, policy: ResidencyPolicy) -> list[str]:
    """The EU-pinned endpoint hosts of ``vendor`` (built-in, extended or replaced by policy)."""
    hosts = set(policy.eu_pinned_hosts.get(vendor, []))
    if policy.defaults == "extend":
        hosts |= EU_PINNED_HOSTS.get(vendor, frozenset())
    return sorted(hosts)


def location_reasons(vendor: str, region: str, host: str, policy: ResidencyPolicy) -> list[str]:
    """Why a vendor at ``region`` reached through ``host`` is not in the EU (empty: it is).

    On-premise (``region: on-premise``) endpoints must be on this machine or allow-listed;
    any other endpoint needs an EU region and one of the vendor's EU-pinned hosts.
    """
    pinned = eu_pinned_hosts(vendor, policy)
    if not host:
        return ["endpoint has no host"]
    if region == ON_PREMISE_REGION:
        if is_loopback_host(host) or host in pinned:
            return []
        return [f"on-premise vendor endpoint host {host!r} is not loopback or allow-listed"]
    reasons: list[str] = []
    if not is_eu_region(region, policy):
        reasons.append(f"region {region!r} is not in the EU allow-list")
    if host not in pinned:
        reasons.append(
            f"endpoint host {host!r} is not an EU-pinned host for {vendor} (allowed: {pinned})"
        )
    return reasons


def handling_reasons(vendor: VendorResidency, policy: ResidencyPolicy) -> list[str]:
    """Why the vendor's data handling (logging, retention, training opt-out) is not allowed
    (empty: it is). The other half of the decision, apart from where the endpoint is."""
    reasons: list[str] = []
    if vendor.is_on_premise:
        if vendor.logging_enabled and not policy.allow_logging_for_on_premise:
            reasons.append("logging_enabled is true")
    else:
        if vendor.logging_enabled:
            reasons.append("logging_enabled is true")
        if vendor.data_retention is not False:
            reasons.append(f"data_retention is {vendor.data_retention!r}, expected false")
    if not vendor.training_data_opt_out:
        reasons.append("training_data_opt_out is false")
    return reasons


def _violations(
    name: str, vendor: VendorResidency, host: str, config: ResidencyConfig
) -> list[str]:
    policy = config.policy
    region = ON_PREMISE_REGION if vendor.is_on_premise else vendor.region
    reasons = location_reasons(name, region, host, policy)
    if reasons and not host:
        reasons = [f"endpoint {vendor.endpoint!r} has no host"]
    return reasons + handling_reasons(vendor, policy)
