"""Where each provider's calls go: the simulator, or the vendor route the residency config pins.

Two modes, chosen once from the environment (:func:`select_mode`): ``simulator`` (the default
when no provider credentials are set) sends every call to the provider simulator and judges
residency on the vendor endpoint the simulator stands in for; ``live`` sends calls to the
endpoint in ``configs/vendor_residency.yaml`` (so the host the residency check approved is the
host that is called), with these credentials:

* openai: ``OPENAI_API_KEY``, at the vendor endpoint (``https://eu.api.openai.com/v1``).
* anthropic: the shipped route is AWS Bedrock in eu-central-1, because Anthropic's own API has no
  EU-pinned host; credentials are AWS's standard ones (``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` or ``AWS_PROFILE``). ``ANTHROPIC_API_KEY``
  is used only if the residency config points anthropic at a non-Bedrock endpoint.
* local: ``AGENT_PLATFORM_LOCAL_LLM_BASE_URL`` (else the residency endpoint); no key needed.

A provider whose credentials are missing in live mode is unavailable (the router skips it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_platform.compliance.residency import endpoint_host
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["LIVE_ENV_KEYS", "LOCAL_BASE_URL_ENV", "Endpoint", "build_endpoints", "select_mode"]

LOCAL_BASE_URL_ENV = "AGENT_PLATFORM_LOCAL_LLM_BASE_URL"
LIVE_ENV_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    LOCAL_BASE_URL_ENV,
)
_SIMULATOR_KEY = "simulated-key"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one provider, and which URL the residency check must judge."""

    provider: str
    api: str
    model_prefix: str
    api_base: str | None
    api_key: str | None
    residency_endpoint: str
    simulated: bool
    unavailable_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    live_models: dict[str, str] = field(default_factory=dict)

    def model_string(self, model: str) -> str:
        """The model id litellm expects (``openai/gpt-4o``, ``bedrock/...``)."""
        live = self.live_models.get(model)
        if live is not None and not self.simulated:
            return live
        return f"{self.model_prefix}/{model}"


def select_mode(environ: Mapping[str, str]) -> str:
    """``live`` when any provider credential or the local base URL is set, else ``simulator``."""
    return "live" if any(environ.get(key) for key in LIVE_ENV_KEYS) else "simulator"


def build_endpoints(
    routing: RoutingConfig,
    residency: ResidencyConfig,
    *,
    mode: str,
    simulator_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Endpoint]:
    """One :class:`Endpoint` per routing provider for ``mode``."""
    env = environ or {}
    if mode == "simulator" and not simulator_url:
        raise ValueError("simulator mode needs the simulator's base URL")
    endpoints = {}
    for name, provider in routing.providers.items():
        vendor = residency.vendors.get(name)
        configured = vendor.endpoint if vendor is not None else ""
        if mode == "simulator":
            prefix = "anthropic" if provider.api == "anthropic" else "openai"
            suffix = "" if provider.api == "anthropic" else "/v1"
            endpoints[name] = Endpoint(
                name, provider.api, prefix, f"{simulator_url}/{name}{suffix}",
                _SIMULATOR_KEY, configured, True,
            )  # fmt: skip
        else:
            endpoints[name] = _live(name, provider.api, configured, env, provider.live_models)
    return endpoints


def _live(
    name: str, api: str, configured: str, env: Mapping[str, str], live_models: dict[str, str]
) -> Endpoint:
    if api == "openai_compatible":
        base = env.get(LOCAL_BASE_URL_ENV) or configured
        return Endpoint(name, api, "openai", base, "local-no-key", base, False)
    if api == "anthropic" and endpoint_host(configured).startswith("bedrock-runtime."):
        region = endpoint_host(configured).split(".")[1]
        has_aws = bool(env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"))
        return Endpoint(
            name, api, "bedrock", None, None, configured, False,
            None if has_aws else "no AWS credentials for the Bedrock route",
            {"aws_region_name": region}, dict(live_models),
        )  # fmt: skip
    env_key = "ANTHROPIC_API_KEY" if api == "anthropic" else "OPENAI_API_KEY"
    key = env.get(env_key)
    reason = None if key else f"{env_key} is not set"
    prefix = "anthropic" if api == "anthropic" else "openai"
    return Endpoint(name, api, prefix, configured, key, configured, False, reason)
