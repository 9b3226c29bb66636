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

Every endpoint but Bedrock is ``direct``: the adapter posts litellm's request for it over its own
pooled HTTP client (:mod:`~agent_platform.models.direct`); Bedrock (AWS request signing) keeps
``litellm.acompletion``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_platform.compliance.residency import endpoint_host
from agent_platform.errors import ConfigError
from agent_platform.models.config import ROUTING_FILE
from agent_platform.schemas.residency import ResidencyConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "LIVE_ENV_KEYS",
    "LOCAL_BASE_URL_ENV",
    "Endpoint",
    "build_endpoints",
    "check_live_models",
    "live_prefix",
    "select_mode",
]

LOCAL_BASE_URL_ENV = "AGENT_PLATFORM_LOCAL_LLM_BASE_URL"
LIVE_ENV_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    LOCAL_BASE_URL_ENV,
)
_SIMULATOR_KEY = "simulated-key"
# A Bedrock model id after ``bedrock/``: an optional litellm route, an optional ``eu.``
# cross-region profile, then ``<vendor>.<model>``.
_BEDROCK_ID = re.compile(
    r"^(?:(?:converse|invoke)/)?(?:eu\.)?(?P<vendor>[a-z][a-z0-9-]*)\.[A-Za-z0-9][A-Za-z0-9.:_-]*$"
)
# Geography prefixes of cross-region inference profiles: never a model's vendor. Only one leading
# ``eu.`` is allowed (consumed by the pattern above), so ``eu`` here rejects ``eu.<model>``.
_PROFILE_PREFIXES = frozenset({"us", "us-gov", "apac", "global", "ca", "jp", "au", "eu"})


@dataclass(frozen=True)
class Endpoint:
    """How to reach one provider, and which URL the residency check must judge.

    ``direct``: called over the adapter's pooled HTTP client with litellm's request format
    (OpenAI-compatible and Anthropic APIs); otherwise through ``litellm.acompletion``.
    """

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
    direct: bool = False

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
    """One :class:`Endpoint` per routing provider for ``mode``.

    Raises:
        ConfigError: a ``live_models`` value does not fit the provider's live route (wrong
            litellm prefix, or a Bedrock inference profile that may leave the EU).
    """
    env = environ or {}
    if mode == "simulator" and not simulator_url:
        raise ValueError("simulator mode needs the simulator's base URL")
    endpoints = {}
    for name, provider in routing.providers.items():
        vendor = residency.vendors.get(name)
        configured = vendor.endpoint if vendor is not None else ""
        if vendor is not None:  # without a residency entry the provider is never called
            check_live_models(name, live_prefix(provider.api, configured), provider.live_models)
        if mode == "simulator":
            prefix = "anthropic" if provider.api == "anthropic" else "openai"
            suffix = "" if provider.api == "anthropic" else "/v1"
            endpoints[name] = Endpoint(
                name, provider.api, prefix, f"{simulator_url}/{name}{suffix}",
                _SIMULATOR_KEY, configured, True, direct=True,
            )  # fmt: skip
        else:
            endpoints[name] = _live(name, provider.api, configured, env, provider.live_models)
    return endpoints


def live_prefix(api: str, configured: str) -> str:
    """The litellm model prefix of the live route for a provider of ``api`` at ``configured``."""
    if api == "anthropic" and _is_bedrock(configured):
        return "bedrock"
    return "anthropic" if api == "anthropic" else "openai"


def check_live_models(provider: str, prefix: str, live_models: Mapping[str, str]) -> None:
    """Raise :class:`ConfigError` for a ``live_models`` value the live route must not call.

    Every value starts with ``prefix/``; a Bedrock value is a region-local model id
    (``anthropic.claude-...``) or an ``eu.`` cross-region inference profile, never a ``us.``,
    ``global.`` or other non-EU profile that would route the request out of the EU.
    """
    for model, value in live_models.items():
        key = f"providers.{provider}.live_models.{model}"
        if not value.startswith(f"{prefix}/") or value == f"{prefix}/":
            raise ConfigError(ROUTING_FILE, key, value, f"a litellm model id starting {prefix}/")
        if prefix != "bedrock":
            continue
        match = _BEDROCK_ID.match(value.removeprefix("bedrock/"))
        if match is None or match["vendor"] in _PROFILE_PREFIXES:
            raise ConfigError(
                ROUTING_FILE,
                key,
                value,
                "bedrock/<vendor>.<model> (region-local) or bedrock/eu.<vendor>.<model> "
                "(EU cross-region inference profile)",
            )


def _is_bedrock(configured: str) -> bool:
    return endpoint_host(configured).startswith("bedrock-runtime.")


def _live(
    name: str, api: str, configured: str, env: Mapping[str, str], live_models: dict[str, str]
) -> Endpoint:
    """The live endpoint: the host called is always the host the residency check judges."""
    if api == "openai_compatible":
        base = env.get(LOCAL_BASE_URL_ENV) or configured
        return Endpoint(name, api, "openai", base, "local-no-key", base, False, direct=True)
    if api == "anthropic" and _is_bedrock(configured):
        region = endpoint_host(configured).split(".")[1]
        has_aws = bool(env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"))
        # litellm calls ``aws_bedrock_runtime_endpoint`` (else AWS_BEDROCK_RUNTIME_ENDPOINT from
        # the environment) even when ``api_base`` is set: both are pinned to the approved host.
        extra = {"aws_region_name": region, "aws_bedrock_runtime_endpoint": configured}
        return Endpoint(
            name, api, "bedrock", configured, None, configured, False,
            None if has_aws else "no AWS credentials for the Bedrock route",
            extra, dict(live_models),
        )  # fmt: skip
    env_key = "ANTHROPIC_API_KEY" if api == "anthropic" else "OPENAI_API_KEY"
    key = env.get(env_key)
    reason = None if key else f"{env_key} is not set"
    prefix = "anthropic" if api == "anthropic" else "openai"
    return Endpoint(
        name, api, prefix, configured, key, configured, False, reason, {}, dict(live_models),
        direct=True,
    )  # fmt: skip
