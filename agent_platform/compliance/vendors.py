"""What the product knows about where LLM vendors keep data: EU regions and EU-pinned hosts.

This is product knowledge, not configuration: a residency file in the specification's own
format (``vendors:`` and ``enforcement:`` only) is judged against these defaults. A file's
``policy:`` section may add to them (``defaults: extend``, the default) or replace them
(``defaults: replace``).

A region label proves nothing on its own; the endpoint host must be one of the vendor's
EU-pinned hosts. OpenAI's EU data-residency endpoint is ``eu.api.openai.com``; Anthropic's own
API has no EU-pinned host, so Claude is reached in the EU through AWS Bedrock or Google Vertex
AI regional endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["EU_PINNED_HOSTS", "EU_REGIONS", "ON_PREMISE_REGION"]

ON_PREMISE_REGION = "on-premise"
"""The region label of a vendor running on our own hardware."""

EU_REGIONS: frozenset[str] = frozenset(
    {
        "eu",
        # AWS (eu-west-2 is London and eu-central-2 Zurich: outside the EU, so not listed)
        "eu-central-1",
        "eu-west-1",
        "eu-west-3",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        # Google Cloud
        "europe-west1",
        "europe-west3",
        "europe-west4",
        "europe-west9",
        # Azure
        "westeurope",
        "northeurope",
        "swedencentral",
        "francecentral",
        "germanywestcentral",
    }
)

EU_PINNED_HOSTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "openai": frozenset({"eu.api.openai.com"}),
        "anthropic": frozenset(
            {
                "bedrock-runtime.eu-central-1.amazonaws.com",
                "bedrock-runtime.eu-west-1.amazonaws.com",
                "bedrock-runtime.eu-west-3.amazonaws.com",
                "europe-west1-aiplatform.googleapis.com",
            }
        ),
    }
)
